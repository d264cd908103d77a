module opk.test/gofold

go 1.22
