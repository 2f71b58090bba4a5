# Autoloaded: Ruby reads this file the first time the constant Inventory is
# reached, which only GET /api/inventory does.
require "json"

module Inventory
  ITEMS = { "tea" => 3, "coffee" => 5, "cocoa" => 2 }.freeze

  def self.to_json
    JSON.generate({ "inventory" => ITEMS, "total" => ITEMS.values.sum })
  end
end
