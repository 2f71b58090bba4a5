defmodule App do
  @moduledoc """
  slimtrace fixture: an HTTP/1.1 responder on plain `:gen_tcp` (no Plug, no
  Cowboy: Debian packages neither), one process per connection.

  Routes:

    * `/` - HTML
    * `/api/report` - JSON from `App.Report`, a module the VM loads from
      /app/ebin only when this route first calls it
    * `/api/hash?text=...` - SHA-256 through `:crypto`, whose module and NIF
      (and with it libcrypto) load at the first call
    * `/healthz` - "ok"

  Erlang in interactive mode loads every module at its first call, so start-up
  alone does not show these files.
  """

  def main do
    port = String.to_integer(System.get_env("PORT", "4000"))

    {:ok, listen} =
      :gen_tcp.listen(port, [
        :binary,
        packet: :http_bin,
        active: false,
        reuseaddr: true,
        ip: {0, 0, 0, 0}
      ])

    IO.puts("elixir-app listening on #{port}")
    accept(listen)
  end

  defp accept(listen) do
    {:ok, sock} = :gen_tcp.accept(listen)
    pid = spawn(fn -> receive(do: (:go -> serve(sock))) end)
    :ok = :gen_tcp.controlling_process(sock, pid)
    send(pid, :go)
    accept(listen)
  end

  defp serve(sock) do
    with {:ok, {:http_request, method, {:abs_path, target}, _version}} <- :gen_tcp.recv(sock, 0, 10_000),
         :ok <- skip_headers(sock) do
      {path, query} = split_target(target)
      IO.puts("#{method} #{target}")
      {status, type, body} = route(method, path, query)
      respond(sock, status, type, body)
    end

    :gen_tcp.close(sock)
  end

  defp skip_headers(sock) do
    case :gen_tcp.recv(sock, 0, 10_000) do
      {:ok, :http_eoh} -> :ok
      {:ok, {:http_header, _, _, _, _}} -> skip_headers(sock)
      other -> other
    end
  end

  defp split_target(target) do
    case String.split(target, "?", parts: 2) do
      [path, query] -> {path, URI.decode_query(query)}
      [path] -> {path, %{}}
    end
  end

  defp route(:GET, "/", _query) do
    {200, "text/html; charset=utf-8",
     """
     <!doctype html>
     <html>
     <head><meta charset="utf-8"><title>slimtrace fixture: elixir-app</title></head>
     <body>
     <h1>elixir-app</h1>
     <p>A slimtrace test fixture: Elixir #{System.version()} on Erlang/OTP #{System.otp_release()}.</p>
     <ul>
     <li><a href="/api/report">report</a></li>
     <li><a href="/api/hash?text=slimtrace">hash</a></li>
     </ul>
     </body>
     </html>
     """}
  end

  defp route(:GET, "/api/report", _query), do: {200, "application/json", App.Report.json()}

  defp route(:GET, "/api/hash", query) do
    text = Map.get(query, "text", "")
    digest = :crypto.hash(:sha256, text) |> Base.encode16(case: :lower)
    {200, "application/json", ~s({"text":#{inspect(text)},"sha256":"#{digest}"}\n)}
  end

  defp route(:GET, "/healthz", _query), do: {200, "text/plain", "ok\n"}
  defp route(_method, _path, _query), do: {404, "text/plain", "not found\n"}

  defp respond(sock, status, type, body) do
    reason = if status == 200, do: "OK", else: "Not Found"

    :gen_tcp.send(sock, [
      "HTTP/1.1 #{status} #{reason}\r\n",
      "Content-Type: #{type}\r\n",
      "Content-Length: #{byte_size(body)}\r\n",
      "Connection: close\r\n\r\n",
      body
    ])
  end
end
