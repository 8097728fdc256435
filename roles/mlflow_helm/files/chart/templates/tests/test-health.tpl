{{- if .Values.tests.enabled }}
# `helm test <release>`: the server answers /health and the API through the Service name,
# i.e. with the Host header in-cluster clients send.
apiVersion: v1
kind: Pod
metadata:
  name: {{ printf "%s-test" (include "mlflow.fullname" .) | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "mlflow.labels" . | nindent 4 }}
    app.kubernetes.io/component: test
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  enableServiceLinks: false
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  containers:
    - name: health
      image: {{ include "mlflow.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      command:
        - python
        - -c
        - |
          import urllib.request
          base = "http://{{ include "mlflow.fullname" . }}.{{ .Release.Namespace }}.svc:{{ .Values.service.port }}{{ .Values.server.staticPrefix }}"
          assert urllib.request.urlopen(base + "/health", timeout=10).read().strip() == b"OK"
          urllib.request.urlopen(base + "/api/2.0/mlflow/experiments/search?max_results=1", timeout=10).read()
      resources:
        requests:
          cpu: 10m
          memory: 64Mi
        limits:
          memory: 128Mi
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
{{- end }}
