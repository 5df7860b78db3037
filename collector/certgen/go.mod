module amas.invalid/certgen

go 1.26
