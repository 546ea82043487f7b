# The shop's processes are global (one Inventory, one gateway...): tests that use them are async: false
# and start from Shop.reset/0. Crash reports are expected (the gateway crashes on purpose), so logs
# are captured and shown only for failing tests.
ExUnit.start(capture_log: true)
