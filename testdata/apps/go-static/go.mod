module slimtrace.test/go-static

go 1.24
