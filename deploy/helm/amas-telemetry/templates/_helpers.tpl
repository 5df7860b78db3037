{{/* Names: <release>-<chart> shortened, as most charts do. */}}
{{- define "amas.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "amas.agent.name" -}}{{ include "amas.fullname" . }}-agent{{- end -}}
{{- define "amas.gateway.name" -}}{{ include "amas.fullname" . }}-gateway{{- end -}}
{{- define "amas.service.name" -}}{{ include "amas.fullname" . }}-service{{- end -}}
{{- define "amas.collectorConfig.name" -}}{{ include "amas.fullname" . }}-collector{{- end -}}

{{/* The headless Service of the gateways as <name>.<namespace>: the agents' k8s resolver. */}}
{{- define "amas.gateway.resolverService" -}}
{{ include "amas.gateway.name" . }}.{{ .Release.Namespace }}
{{- end -}}

{{/* Labels of every object; "component" tells agent, gateway and service apart. */}}
{{- define "amas.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: amas-telemetry
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "amas.selectorLabels" . }}
{{- end -}}

{{- define "amas.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "amas.collectorImage" -}}
{{ .Values.collectorImage.repository }}:{{ .Values.collectorImage.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* Environment shared by agent and gateway: listen addresses and self-metrics in the pod. */}}
{{- define "amas.collectorListenEnv" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: AMAS_COLLECTOR_OTLP_GRPC
  value: "0.0.0.0:{{ .ports.otlpGrpc }}"
- name: AMAS_COLLECTOR_OTLP_HTTP
  value: "0.0.0.0:{{ .ports.otlpHttp }}"
- name: AMAS_COLLECTOR_HEALTH
  value: "0.0.0.0:13133"
- name: AMAS_COLLECTOR_METRICS_HOST
  value: "$(POD_IP)"
- name: AMAS_COLLECTOR_METRICS_PORT
  value: "8888"
- name: AMAS_COLLECTOR_MEMORY_LIMIT_MIB
  value: {{ .memoryLimiterMiB | quote }}
- name: AMAS_COLLECTOR_MEMORY_SPIKE_MIB
  value: {{ .memorySpikeMiB | quote }}
- name: AMAS_COLLECTOR_LOG_LEVEL
  value: {{ .logLevel | quote }}
{{- end -}}

{{/* Probes on the health_check extension. */}}
{{- define "amas.collectorProbes" -}}
readinessProbe:
  httpGet:
    path: /
    port: health
  periodSeconds: 5
livenessProbe:
  httpGet:
    path: /
    port: health
  periodSeconds: 10
  failureThreshold: 6
{{- end -}}

{{- define "amas.collectorSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
capabilities:
  drop: [ALL]
{{- end -}}

{{/* The name the agents verify in the gateways' certificate. */}}
{{- define "amas.gateway.tlsServerName" -}}
{{- .Values.tls.serverName | default (printf "%s.%s.svc" (include "amas.gateway.name" .) .Release.Namespace) -}}
{{- end -}}
