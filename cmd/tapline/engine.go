package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tapline/tapline/sink/embedded"
)

func runEngine(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var s settings
	var cache string
	fs := s.newFlags("engine", "engine fetch [--cache DIR]", 0, stderr)
	fs.StringVar(&cache, "cache", "", "cache root; empty means .cache in the tapline source tree, else the user cache directory")
	if len(args) == 0 || args[0] != "fetch" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fs.Usage()
			return errHelp
		}
		return usagef("want `tapline engine fetch`")
	}
	if err := s.parse(fs, args[1:], nil); err != nil {
		return err
	}
	if cache == "" {
		cache = embedded.DefaultCacheRoot()
	}
	lib, err := embedded.FetchLibrary(ctx, cache, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, lib)
	return nil
}
