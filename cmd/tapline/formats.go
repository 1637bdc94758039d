package main

import (
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
)

// registry wires every decoder tapline ships. Register new formats here.
func registry() *decode.Registry {
	r := &decode.Registry{}
	r.Register(sofarpc.Format, sofarpc.New)
	return r
}

func formatNames() []string { return registry().Names() }
