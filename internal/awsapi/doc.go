// Package awsapi is the AWS protocol runtime shared by every Berth API: the edge
// listener and its router, SigV4 verification, the JSON codecs, API errors and
// request ids. Generated service packages (internal/awsapi/<service>) describe
// their operations as a Service; handlers never see wire details.
//
// It must not import any Berth domain package (internal/ecs, internal/store, ...).
package awsapi
