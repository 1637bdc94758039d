package schema

// All returns every table tapline writes, for checks that walk all of them
// (the schema/SQL agreement test, the startup column check).
func All() []*Table {
	return []*Table{
		SofarpcDigest, SofarpcStat,
		G3proxyTask,
		WebdebugEvents, WebdebugDocuments,
		DjangoEvents,
		EnvoytapEvents, EnvoytapConnections,
		PipelineBatches,
	}
}
