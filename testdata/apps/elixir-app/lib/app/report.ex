defmodule App.Report do
  @moduledoc "Loaded lazily: only GET /api/report calls into this module."

  @stock [tea: 3, coffee: 5, cocoa: 2]

  def json do
    items = Enum.map_join(@stock, ",", fn {name, n} -> ~s("#{name}":#{n}) end)
    total = @stock |> Keyword.values() |> Enum.sum()
    ~s({"report":"stock","items":{#{items}},"total":#{total}}\n)
  end
end
