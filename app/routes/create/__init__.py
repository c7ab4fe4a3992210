"""Create Service, one module per way: `choose` (the entry page), `wizard` (Stateless and Stateful),
`custom` (External Service and Specify Workloads) and `yaml` (Edit by YAML). All under
`/workspaces/{ws}/projects/{project}/services/-/new`, editors only."""
