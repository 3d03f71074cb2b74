{{/* Name of the chart, or nameOverride. */}}
{{- define "kubepulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: release-name, unless the release name already holds the chart name. */}}
{{- define "kubepulse.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kubepulse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the agent's pods: never change them (DaemonSet selectors are immutable). */}}
{{- define "kubepulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kubepulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kubepulse.labels" -}}
helm.sh/chart: {{ include "kubepulse.chart" . }}
{{ include "kubepulse.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent
app.kubernetes.io/part-of: kubepulse
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "kubepulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kubepulse.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository[:tag][@digest] */}}
{{- define "kubepulse.imageRef" -}}
{{- $ref := .image.repository -}}
{{- if .image.digest -}}
{{- printf "%s@%s" $ref .image.digest -}}
{{- else -}}
{{- printf "%s:%s" $ref (default .default .image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The hostPath directory of this release's checkpoints. */}}
{{- define "kubepulse.checkpointHostPath" -}}
{{- default (printf "/var/lib/kubepulse/%s-%s" .Release.Namespace (include "kubepulse.fullname" .)) .Values.checkpoint.hostPath.path -}}
{{- end -}}

{{/* Where the checkpoint volume is mounted in the agent, and its file. */}}
{{- define "kubepulse.checkpointDir" -}}/var/lib/kubepulse{{- end -}}

{{/* Whether /metrics is served securely (TLS + authn/authz of scrapers). */}}
{{- define "kubepulse.secure" -}}
{{- if .Values.config.metrics.secure -}}true{{- end -}}
{{- end -}}

{{/* The agent's config file: config values, with what the chart owns set. */}}
{{- define "kubepulse.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $_ := set $cfg "listenAddress" (printf ":%d" (int .Values.port)) -}}
{{- $cp := default dict $cfg.checkpoint -}}
{{- $_ := set $cp "path" (printf "%s/checkpoint" (include "kubepulse.checkpointDir" .)) -}}
{{- $_ := set $cfg "checkpoint" $cp -}}
{{- /* Leave out what is not set, so that the agent's defaults apply. */ -}}
{{- if $cfg.alertmanager -}}
{{- if not $cfg.alertmanager.service -}}{{- $_ := unset $cfg.alertmanager "service" -}}{{- end -}}
{{- if not $cfg.alertmanager.externalLabels -}}{{- $_ := unset $cfg.alertmanager "externalLabels" -}}{{- end -}}
{{- if not $cfg.alertmanager.urls -}}{{- $_ := unset $cfg.alertmanager "urls" -}}{{- end -}}
{{- if not $cfg.alertmanager -}}{{- $_ := unset $cfg "alertmanager" -}}{{- end -}}
{{- end -}}
{{- if and $cfg.otlp (not $cfg.otlp.endpoint) -}}{{- $_ := unset $cfg.otlp "endpoint" -}}{{- end -}}
{{- if not $cfg.otlp -}}{{- $_ := unset $cfg "otlp" -}}{{- end -}}
{{- if not $cfg.baseline -}}{{- $_ := unset $cfg "baseline" -}}{{- end -}}
{{- toYaml $cfg -}}
{{- end -}}
