package analytics

// LoadQueriesForTest lets the external tests check the query file rules on
// files of their own.
var LoadQueriesForTest = loadQueries
