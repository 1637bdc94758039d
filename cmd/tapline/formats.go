package main

import (
	"github.com/tapline/tapline/ingest/decode"
	"github.com/tapline/tapline/ingest/decode/django"
	"github.com/tapline/tapline/ingest/decode/envoytap"
	"github.com/tapline/tapline/ingest/decode/g3proxy"
	"github.com/tapline/tapline/ingest/decode/sofarpc"
	"github.com/tapline/tapline/ingest/decode/webdebug"
)

// registry wires every decoder tapline ships. Register new formats here.
func registry() *decode.Registry {
	r := &decode.Registry{}
	r.Register(sofarpc.Format, sofarpc.New)
	r.Register(django.Format, django.New)
	r.Register(envoytap.Format, envoytap.New)
	r.Register(g3proxy.Format, g3proxy.New)
	r.Register(webdebug.Format, webdebug.New)
	return r
}

func formatNames() []string { return registry().Names() }
