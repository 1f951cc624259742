{{/*
The services this chart deploys, in start order (value key of each block).
*/}}
{{- define "agentspend.components" -}}
identity ledger analytics alerts
{{- end }}

{{/*
Expand the name of the chart.
*/}}
{{- define "agentspend.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name, truncated so that "<fullname>-analytics" stays
within 63 characters (DNS label limit).
*/}}
{{- define "agentspend.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 53 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 53 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version as used by the chart label.
*/}}
{{- define "agentspend.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Name of one service's resources. Context: dict "root" $ "component" "ledger".
*/}}
{{- define "agentspend.componentName" -}}
{{- printf "%s-%s" (include "agentspend.fullname" .root) .component }}
{{- end }}

{{/*
Common labels of the release (no component).
*/}}
{{- define "agentspend.labels" -}}
helm.sh/chart: {{ include "agentspend.chart" . }}
app.kubernetes.io/name: {{ include "agentspend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: agentspend
{{- end }}

{{/*
Selector labels of the release's pods (every service).
*/}}
{{- define "agentspend.releaseSelectorLabels" -}}
app.kubernetes.io/name: {{ include "agentspend.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of one service's resources. Context: dict "root" $ "component" "ledger".
*/}}
{{- define "agentspend.componentLabels" -}}
{{ include "agentspend.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Selector labels of one service's pods. Context: dict "root" $ "component" "ledger".
*/}}
{{- define "agentspend.componentSelectorLabels" -}}
{{ include "agentspend.releaseSelectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
ServiceAccount name of one service. Context: dict "root" $ "component" "ledger".
*/}}
{{- define "agentspend.serviceAccountName" -}}
{{- $svc := index .root.Values .component }}
{{- if $svc.serviceAccount.create }}
{{- default (include "agentspend.componentName" .) $svc.serviceAccount.name }}
{{- else }}
{{- default "default" $svc.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Image of one service. Context: dict "root" $ "component" "ledger".
*/}}
{{- define "agentspend.image" -}}
{{- $svc := index .root.Values .component }}
{{- $repo := $svc.image.repository }}
{{- if .root.Values.imageRegistry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .root.Values.imageRegistry) $repo }}
{{- end }}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $svc.image.tag) }}
{{- end }}

{{/*
Service port name and appProtocol: grpc (h2c) in plain text, https with TLS. gRPC, health and
metrics share the port; meshes that read the name or appProtocol then proxy it as HTTP/2, which
also carries the HTTP/1.1 probes and scrapes (the sidecar translates).
*/}}
{{- define "agentspend.portName" -}}
{{- if .Values.tls.enabled }}https{{ else }}grpc{{ end }}
{{- end }}

{{/*
"true" when gRPC runs on its own port with client certificates (tls.mutual.enabled), else empty.
*/}}
{{- define "agentspend.mutualTls" -}}
{{- if .Values.tls.mutual.enabled }}
{{- if not .Values.tls.enabled }}
{{- fail "tls.mutual.enabled needs tls.enabled: mutual TLS uses the same Secret and CA" }}
{{- end }}
{{- true }}
{{- end }}
{{- end }}

{{- define "agentspend.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/*
Database URLs.
*/}}
{{- define "agentspend.jdbcUrl" -}}
{{- if .Values.database.jdbcUrl }}
{{- .Values.database.jdbcUrl }}
{{- else }}
{{- printf "jdbc:postgresql://%s:%d/%s?sslmode=%s" .Values.database.host (int .Values.database.port) .Values.database.name .Values.database.sslmode }}
{{- end }}
{{- end }}

{{/*
The reactive client's URL: database.reactiveUrl, or the JDBC URL without "jdbc:" and with only its
sslmode parameter. The reactive client sends any other parameter to PostgreSQL as a setting of the
session (sslrootcert, ApplicationName, currentSchema ...), which refuses the connection.
*/}}
{{- define "agentspend.reactiveUrl" -}}
{{- if .Values.database.reactiveUrl }}
{{- .Values.database.reactiveUrl }}
{{- else }}
{{- $parts := splitn "?" 2 (trimPrefix "jdbc:" (include "agentspend.jdbcUrl" .)) }}
{{- $kept := list }}
{{- range splitList "&" (default "" $parts._1) }}
{{- if hasPrefix "sslmode=" . }}{{ $kept = append $kept . }}{{ end }}
{{- end }}
{{- $parts._0 }}{{ if $kept }}?{{ join "&" $kept }}{{ end }}
{{- end }}
{{- end }}

{{/*
The sslmode the reactive client is given when the chart builds its URL (empty with a
database.reactiveUrl, which decides verification itself).
*/}}
{{- define "agentspend.reactiveSslmode" -}}
{{- if .Values.database.reactiveUrl -}}
{{- else if .Values.database.jdbcUrl -}}
{{- trimPrefix "sslmode=" (trimPrefix "&" (trimPrefix "?" (regexFind "[?&]sslmode=[^&]*" .Values.database.jdbcUrl))) -}}
{{- else -}}
{{- .Values.database.sslmode -}}
{{- end -}}
{{- end }}

{{/*
A duration value of this chart ("500ms", "5s", "2m" or empty) in whole seconds, rounded up.
*/}}
{{- define "agentspend.durationSeconds" -}}
{{- $d := toString (default "" .) -}}
{{- if hasSuffix "ms" $d -}}
{{- div (add (atoi (trimSuffix "ms" $d)) 999) 1000 -}}
{{- else if hasSuffix "s" $d -}}
{{- atoi (trimSuffix "s" $d) -}}
{{- else if hasSuffix "m" $d -}}
{{- mul (atoi (trimSuffix "m" $d)) 60 -}}
{{- else -}}
0
{{- end -}}
{{- end -}}

{{/*
Fails the render when a stopping pod would be killed before its shutdown delay and its wait for the
calls in flight are over: Kubernetes sends SIGKILL terminationGracePeriodSeconds after SIGTERM.
*/}}
{{- define "agentspend.requireGracePeriod" -}}
{{- $root := .root -}}
{{- $svc := .svc -}}
{{- $stopping := add (include "agentspend.durationSeconds" $root.Values.shutdownDelay | atoi) (include "agentspend.durationSeconds" $root.Values.shutdownTimeout | atoi) -}}
{{- if ge (int $stopping) (int $svc.terminationGracePeriodSeconds) -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must be more than shutdownDelay (%s) plus shutdownTimeout (%s): Kubernetes would kill a stopping pod before it has answered the calls in flight" .component $svc.terminationGracePeriodSeconds (toString $root.Values.shutdownDelay) (toString $root.Values.shutdownTimeout)) -}}
{{- end -}}
{{- end -}}
