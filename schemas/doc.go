// Package schemas defines lockstep's events as Go types with Avro schemas and carries them over Kafka in the Confluent wire format.
package schemas

// Subjects follow the record name strategy: an event's subject is its full
// Avro name (lockstep.v1.StockMovement), not its topic. Topic names are
// prefixable by configuration, so topic-named subjects would restart at
// version 1 in every environment and give every prefix its own ids; one event
// type is written to more than one topic (a despatch note by the Prima source
// and by the sink's acknowledgements, anything to the DLQ); and Encode need
// not know which topic its bytes are for. The registry's compatibility
// checks then apply per event type, which is where the evolution rule (add
// fields with defaults, never rename or retype) is stated.
