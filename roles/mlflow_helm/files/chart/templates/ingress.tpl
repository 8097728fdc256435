{{- if .Values.ingress.enabled }}
{{- $host := required "ingress.host is required when ingress.enabled (the server only answers known Host headers)" .Values.ingress.host }}
{{- $annotations := dict }}
{{- if eq .Values.ingress.className "alb" }}
{{- $alb := .Values.ingress.alb }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/scheme" $alb.scheme }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/target-type" $alb.targetType }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/healthcheck-path" (include "mlflow.healthPath" .) }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/success-codes" "200" }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/backend-protocol" "HTTP" }}
{{- if $alb.certificateArn }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/certificate-arn" $alb.certificateArn }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/listen-ports" "[{\"HTTP\": 80}, {\"HTTPS\": 443}]" }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/ssl-redirect" "443" }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/ssl-policy" $alb.sslPolicy }}
{{- else }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/listen-ports" "[{\"HTTP\": 80}]" }}
{{- end }}
{{- with $alb.groupName }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/group.name" . }}
{{- end }}
{{- with $alb.inboundCidrs }}
{{- $_ := set $annotations "alb.ingress.kubernetes.io/inbound-cidrs" (join "," .) }}
{{- end }}
{{- end }}
{{- $annotations = merge (deepCopy .Values.ingress.annotations) $annotations }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "mlflow.fullname" . }}
  labels:
    {{- include "mlflow.labels" . | nindent 4 }}
    app.kubernetes.io/component: tracking-server
  {{- with $annotations }}
  annotations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
spec:
  {{- with .Values.ingress.className }}
  ingressClassName: {{ . }}
  {{- end }}
  {{- with .Values.ingress.tls }}
  tls:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  rules:
    - host: {{ $host | quote }}
      http:
        paths:
          - path: {{ printf "%s%s" .Values.server.staticPrefix .Values.ingress.path | replace "//" "/" }}
            pathType: {{ .Values.ingress.pathType }}
            backend:
              service:
                name: {{ include "mlflow.fullname" . }}
                port:
                  name: http
{{- end }}
