{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "mlflow.serviceAccountName" . }}
  labels:
    {{- include "mlflow.labels" . | nindent 4 }}
  {{- if or .Values.serviceAccount.roleArn .Values.serviceAccount.annotations }}
  annotations:
    {{- with .Values.serviceAccount.roleArn }}
    eks.amazonaws.com/role-arn: {{ . | quote }}
    eks.amazonaws.com/sts-regional-endpoints: {{ $.Values.serviceAccount.stsRegionalEndpoints | quote }}
    {{- end }}
    {{- with .Values.serviceAccount.annotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- end }}
automountServiceAccountToken: false
{{- end }}
