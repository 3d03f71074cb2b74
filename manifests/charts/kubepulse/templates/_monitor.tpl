{{/*
The scrape settings ServiceMonitor and PodMonitor share. Called with
(dict "root" $ "m" .Values.serviceMonitor).
*/}}
{{- define "kubepulse.monitorEndpoint" -}}
{{- $root := .root -}}
{{- $m := .m -}}
path: /metrics
interval: {{ $m.interval }}
scrapeTimeout: {{ $m.scrapeTimeout }}
{{- if include "kubepulse.secure" $root }}
scheme: https
{{- with $m.tlsConfig }}
tlsConfig:
  {{- toYaml . | nindent 2 }}
{{- end }}
# The scraper ServiceAccount's token (scraper.yaml): the agent reviews it and
# checks, with a SubjectAccessReview, that it may GET /metrics.
authorization:
  type: Bearer
  credentials:
    name: {{ include "kubepulse.fullname" $root }}-scraper-token
    key: token
{{- else }}
scheme: http
{{- end }}
relabelings:
  # The per-node dimension of every dashboard and rule.
  - sourceLabels: [__meta_kubernetes_pod_node_name]
    targetLabel: node
    action: replace
  {{- with $m.cluster }}
  - targetLabel: cluster
    replacement: {{ . | quote }}
    action: replace
  {{- end }}
  {{- with $m.relabelings }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- with $m.metricRelabelings }}
metricRelabelings:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}
