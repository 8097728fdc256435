{{/* Names, labels and the server's derived settings. */}}

{{- define "mlflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "mlflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "mlflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "mlflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "mlflow.labels" -}}
helm.sh/chart: {{ include "mlflow.chart" . }}
{{ include "mlflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: mlops-platform
{{- end }}

{{- define "mlflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "mlflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The image by digest when one is given, else by tag (default: appVersion). */}}
{{- define "mlflow.image" -}}
{{- $repo := required "image.repository is required (the image built from images/mlflow)" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{- define "mlflow.healthPath" -}}
{{- printf "%s/health" .Values.server.staticPrefix }}
{{- end }}

{{/* --default-artifact-root: the proxy URI when the server serves artifacts. */}}
{{- define "mlflow.defaultArtifactRoot" -}}
{{- if .Values.artifacts.defaultArtifactRoot }}
{{- .Values.artifacts.defaultArtifactRoot }}
{{- else if .Values.artifacts.serveArtifacts }}
{{- "mlflow-artifacts:/" }}
{{- else }}
{{- .Values.artifacts.destination }}
{{- end }}
{{- end }}

{{/* Scheme the browser uses to reach the ingress host. */}}
{{- define "mlflow.ingressScheme" -}}
{{- if or .Values.ingress.tls (and (eq .Values.ingress.className "alb") .Values.ingress.alb.certificateArn) }}
{{- "https" }}
{{- else }}
{{- "http" }}
{{- end }}
{{- end }}

{{/*
Host headers the server accepts (MLFLOW_SERVER_ALLOWED_HOSTS). When the variable is set
mlflow accepts nothing else, so the list carries localhost, every in-cluster name of the
Service (with and without the port), the ingress host, private IPs (optional) and extras.
Without the Service names, in-cluster clients such as Airflow tasks get 403.
*/}}
{{- define "mlflow.allowedHosts" -}}
{{- $svc := include "mlflow.fullname" . }}
{{- $ns := .Release.Namespace }}
{{- $port := toString .Values.service.port }}
{{- $hosts := list "localhost" "127.0.0.1" "[::1]" "localhost:*" "127.0.0.1:*" "[[]::1]:*" }}
{{- range $name := list $svc (printf "%s.%s" $svc $ns) (printf "%s.%s.svc" $svc $ns) (printf "%s.%s.svc.%s" $svc $ns $.Values.clusterDomain) }}
{{- $hosts = append $hosts $name }}
{{- $hosts = append $hosts (printf "%s:%s" $name $port) }}
{{- end }}
{{- if and .Values.ingress.enabled .Values.ingress.host }}
{{- $hosts = append $hosts .Values.ingress.host }}
{{- end }}
{{- if .Values.server.allowPrivateNetworks }}
{{- $hosts = append $hosts "10.*" }}
{{- $hosts = append $hosts "192.168.*" }}
{{- range $i := untilStep 16 32 1 }}
{{- $hosts = append $hosts (printf "172.%d.*" $i) }}
{{- end }}
{{- end }}
{{- range .Values.server.allowedHosts }}
{{- $hosts = append $hosts . }}
{{- end }}
{{- join "," (uniq $hosts) }}
{{- end }}

{{/* Browser origins allowed to send state-changing requests: the ingress origin and extras. */}}
{{- define "mlflow.corsAllowedOrigins" -}}
{{- $origins := list }}
{{- if and .Values.ingress.enabled .Values.ingress.host }}
{{- $origins = append $origins (printf "%s://%s" (include "mlflow.ingressScheme" .) .Values.ingress.host) }}
{{- end }}
{{- range .Values.server.corsAllowedOrigins }}
{{- $origins = append $origins . }}
{{- end }}
{{- join "," (uniq $origins) }}
{{- end }}

{{/* Writable /tmp and the security context shared by the server and the migration Job. */}}
{{- define "mlflow.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: {{ .Values.tmpSizeLimit }}
{{- end }}

{{/* Environment both containers need: the backend store URI from the Secret, AWS settings. */}}
{{- define "mlflow.commonEnv" -}}
- name: MLFLOW_BACKEND_STORE_URI
  valueFrom:
    secretKeyRef:
      name: {{ required "backendStore.existingSecret.name is required (the Secret with the database URI)" .Values.backendStore.existingSecret.name }}
      key: {{ .Values.backendStore.existingSecret.key }}
- name: HOME
  value: /tmp
- name: TMPDIR
  value: /tmp
{{- if not .Values.telemetry.enabled }}
- name: MLFLOW_DISABLE_TELEMETRY
  value: "true"
- name: DO_NOT_TRACK
  value: "true"
{{- end }}
{{- end }}
