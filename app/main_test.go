package app

import (
	"testing"

	"github.com/tapline/tapline/internal/embeddedtest"
)

func TestMain(m *testing.M) { embeddedtest.Main(m) }
