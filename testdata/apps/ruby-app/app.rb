# slimtrace fixture: a Sinatra app (Debian's ruby-sinatra) served by WEBrick.
#
# Routes:
#   /                HTML built in Ruby (no template: the default probe loads no
#                    template engine)
#   /about           HTML from views/about.erb: Tilt registers ERB by name at
#                    start-up (register_lazy) and requires tilt/erb and erb only
#                    at the first render
#   /report.csv      requires "csv" inside the route
#   /api/inventory   reaches the autoloaded constant Inventory (lib/inventory.rb,
#                    which itself requires "json")
#   /style.css       from public/, served only when asked
#   /healthz         "ok"
require "sinatra/base"

autoload :Inventory, File.expand_path("lib/inventory", __dir__)

class App < Sinatra::Base
  set :server, "webrick"
  set :bind, "0.0.0.0"
  set :port, Integer(ENV.fetch("PORT", "4567"))
  set :root, __dir__
  set :logging, true

  get "/" do
    <<~HTML
      <!doctype html>
      <html>
      <head><meta charset="utf-8"><title>slimtrace fixture: ruby-app</title>
      <link rel="stylesheet" href="/style.css"></head>
      <body>
      <h1>ruby-app</h1>
      <ul>
      <li><a href="/api/inventory">inventory</a></li>
      <li><a href="/report.csv">report (CSV)</a></li>
      </ul>
      </body>
      </html>
    HTML
  end

  get "/about" do
    erb :about, locals: { ruby: RUBY_VERSION, sinatra: Sinatra::VERSION }
  end

  get "/report.csv" do
    # Required here on purpose: a tracer sees csv load only when this route
    # is requested.
    require "csv"
    content_type "text/csv"
    CSV.generate do |csv|
      csv << %w[name stock]
      [["tea", 3], ["coffee", 5], ["cocoa", 2]].each { |row| csv << row }
    end
  end

  get "/api/inventory" do
    content_type :json
    Inventory.to_json
  end

  get "/healthz" do
    content_type :text
    "ok\n"
  end
end

App.run!
