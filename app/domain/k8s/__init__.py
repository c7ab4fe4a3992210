"""The one home of each Kubernetes and KubeSphere rule the console checks: object and port names, label
keys and values (`names`), and quantities of CPU, memory and storage (`quantities`). Patterns are used
with `fullmatch` (a `$` anchor would let a trailing newline through)."""
