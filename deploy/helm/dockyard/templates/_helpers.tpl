{{- define "dockyard.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}{{ .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "dockyard.labels" -}}
app.kubernetes.io/name: dockyard
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: dockyard
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "dockyard.selector" -}}
app.kubernetes.io/name: dockyard
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "dockyard.serviceAccount" -}}
{{- default (include "dockyard.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "dockyard.image" -}}
{{ .Values.image.repository }}:{{ default .Chart.AppVersion .Values.image.tag }}
{{- end -}}

{{- define "dockyard.databaseSecret" -}}
{{- default (printf "%s-database" (include "dockyard.fullname" .)) .Values.database.existingSecret -}}
{{- end -}}

{{- define "dockyard.sessionSecret" -}}
{{- default (printf "%s-session" (include "dockyard.fullname" .)) .Values.sessionSecret.existingSecret -}}
{{- end -}}

{{/* Restricted Pod Security: non-root, read-only root filesystem, no privilege escalation, no capabilities. */}}
{{- define "dockyard.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "dockyard.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The console's settings, shared by the Deployment and the migrations Job. */}}
{{- define "dockyard.env" -}}
- name: DOCKYARD_ENV
  value: production
- name: DOCKYARD_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "dockyard.databaseSecret" . }}
      key: url
- name: DOCKYARD_SESSION_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "dockyard.sessionSecret" . }}
      key: session-secret
- name: DOCKYARD_LEASE_NAMESPACE
  value: {{ .Release.Namespace }}
- name: DOCKYARD_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: DOCKYARD_SECURE_COOKIES
  value: {{ .Values.secureCookies | quote }}
{{- with .Values.trustedProxies }}
- name: DOCKYARD_TRUSTED_PROXIES
  value: {{ . | quote }}
{{- end }}
{{- with .Values.metrics.existingSecret }}
- name: DOCKYARD_METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: token
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Single sign-on (console pods only: the migration Job needs none of it). */}}
{{- define "dockyard.oidcEnv" -}}
{{- if .Values.oidc.issuer -}}
{{- with .Values.oidc -}}
- name: DOCKYARD_OIDC_ISSUER
  value: {{ .issuer | quote }}
- name: DOCKYARD_OIDC_CLIENT_ID
  value: {{ .clientId | quote }}
{{- with .existingSecret }}
- name: DOCKYARD_OIDC_CLIENT_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: client-secret
{{- end }}
{{- with .displayName }}
- name: DOCKYARD_OIDC_DISPLAY_NAME
  value: {{ . | quote }}
{{- end }}
- name: DOCKYARD_OIDC_SCOPES
  value: {{ .scopes | quote }}
- name: DOCKYARD_OIDC_GROUPS_CLAIM
  value: {{ .groupsClaim | quote }}
- name: DOCKYARD_OIDC_ADMIN_GROUPS
  value: {{ join "," .adminGroups | quote }}
- name: DOCKYARD_OIDC_SELF_PROVISIONER_GROUPS
  value: {{ join "," .selfProvisionerGroups | quote }}
- name: DOCKYARD_OIDC_LINK_VERIFIED_EMAIL
  value: {{ .linkVerifiedEmail | quote }}
{{- with .redirectUrl }}
- name: DOCKYARD_OIDC_REDIRECT_URL
  value: {{ . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end -}}
