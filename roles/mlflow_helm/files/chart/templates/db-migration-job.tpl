{{- if .Values.dbMigration.enabled }}
# `mlflow db upgrade` once per install and upgrade, before the server pods roll: a Helm
# hook, so with --atomic a failed migration rolls the release back and the old pods keep
# serving. It runs with the namespace's default ServiceAccount (the release's own one does
# not exist yet during pre-install) and needs only the database Secret.
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ printf "%s-db-migration" (include "mlflow.fullname" .) | trunc 63 | trimSuffix "-" }}
  labels:
    {{- include "mlflow.labels" . | nindent 4 }}
    app.kubernetes.io/component: db-migration
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: {{ .Values.dbMigration.backoffLimit }}
  activeDeadlineSeconds: {{ .Values.dbMigration.activeDeadlineSeconds }}
  ttlSecondsAfterFinished: {{ .Values.dbMigration.ttlSecondsAfterFinished }}
  template:
    metadata:
      labels:
        {{- include "mlflow.selectorLabels" . | nindent 8 }}
        app.kubernetes.io/component: db-migration
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      enableServiceLinks: false
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      containers:
        - name: db-upgrade
          image: {{ include "mlflow.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          # The URL is an argument of `mlflow db upgrade`; the shell expands it inside the
          # container so the pod spec carries only the Secret reference.
          command: [/bin/sh, -c, 'exec mlflow db upgrade "$MLFLOW_BACKEND_STORE_URI"']
          env:
            {{- include "mlflow.commonEnv" . | nindent 12 }}
          resources:
            {{- toYaml .Values.dbMigration.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        {{- include "mlflow.tmpVolume" . | nindent 8 }}
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
