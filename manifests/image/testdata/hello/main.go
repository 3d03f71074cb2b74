// Command hello stands in for kubepulse in the image builder's test: a small
// program that prints its version, built the same way.
package main

import (
	"fmt"
	"os"
)

var version = "dev"

func main() {
	fmt.Println("hello from the image test", version, os.Args[1:])
}
