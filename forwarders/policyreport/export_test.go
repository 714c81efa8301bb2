package policyreport

// RestConfig exposes the client configuration to the external tests.
var RestConfig = restConfig
