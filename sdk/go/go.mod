module github.com/keyledger/licensecm-go

go 1.19
