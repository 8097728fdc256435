apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "mlflow.fullname" . }}
  labels:
    {{- include "mlflow.labels" . | nindent 4 }}
    app.kubernetes.io/component: tracking-server
spec:
  replicas: {{ .Values.replicaCount }}
  revisionHistoryLimit: {{ .Values.revisionHistoryLimit }}
  strategy:
    {{- toYaml .Values.strategy | nindent 4 }}
  selector:
    matchLabels:
      {{- include "mlflow.selectorLabels" . | nindent 6 }}
      app.kubernetes.io/component: tracking-server
  template:
    metadata:
      labels:
        {{- include "mlflow.selectorLabels" . | nindent 8 }}
        app.kubernetes.io/component: tracking-server
        app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
        {{- with .Values.podLabels }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- if or .Values.podAnnotations (and .Values.metrics.enabled .Values.metrics.podAnnotations) }}
      annotations:
        {{- if and .Values.metrics.enabled .Values.metrics.podAnnotations }}
        prometheus.io/scrape: "true"
        prometheus.io/port: {{ .Values.server.port | quote }}
        prometheus.io/path: {{ printf "%s/metrics" .Values.server.staticPrefix | quote }}
        {{- end }}
        {{- with .Values.podAnnotations }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
    spec:
      serviceAccountName: {{ include "mlflow.serviceAccountName" . }}
      # The server needs no Kubernetes API token; the IRSA webhook mounts its own
      # projected web identity token regardless of this setting.
      automountServiceAccountToken: false
      enableServiceLinks: false
      terminationGracePeriodSeconds: {{ .Values.server.terminationGracePeriodSeconds }}
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      containers:
        - name: mlflow
          image: {{ include "mlflow.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          {{- with .Values.server.command }}
          command:
            {{- toYaml . | nindent 12 }}
          {{- end }}
          # `mlflow server` with these options. --backend-store-uri comes from
          # MLFLOW_BACKEND_STORE_URI (the option's own environment variable) so that the
          # database password is never on a command line.
          args:
            - server
            - --host={{ .Values.server.host }}
            - --port={{ .Values.server.port }}
            - --workers={{ .Values.server.workers }}
            {{- if .Values.artifacts.serveArtifacts }}
            - --serve-artifacts
            - --artifacts-destination={{ required "artifacts.destination is required (s3://bucket/prefix)" .Values.artifacts.destination }}
            {{- else }}
            - --no-serve-artifacts
            {{- end }}
            - --default-artifact-root={{ required "artifacts.destination is required (s3://bucket/prefix)" (include "mlflow.defaultArtifactRoot" .) }}
            {{- with .Values.server.staticPrefix }}
            - --static-prefix={{ . }}
            {{- end }}
            {{- if gt (int .Values.server.keepAliveSeconds) 0 }}
            - --uvicorn-opts=--timeout-keep-alive={{ .Values.server.keepAliveSeconds }}
            {{- end }}
            {{- if .Values.metrics.enabled }}
            - --expose-prometheus=/tmp/prometheus-metrics
            {{- end }}
            {{- range .Values.server.extraArgs }}
            - {{ . | quote }}
            {{- end }}
          env:
            {{- include "mlflow.commonEnv" . | nindent 12 }}
            - name: MLFLOW_SERVER_ALLOWED_HOSTS
              value: {{ include "mlflow.allowedHosts" . | quote }}
            {{- with include "mlflow.corsAllowedOrigins" . }}
            - name: MLFLOW_SERVER_CORS_ALLOWED_ORIGINS
              value: {{ . | quote }}
            {{- end }}
            {{- with .Values.artifacts.s3.region }}
            - name: AWS_REGION
              value: {{ . | quote }}
            - name: AWS_DEFAULT_REGION
              value: {{ . | quote }}
            {{- end }}
            - name: MLFLOW_SERVER_ENABLE_JOB_EXECUTION
              value: {{ .Values.server.jobExecution | quote }}
            - name: AWS_STS_REGIONAL_ENDPOINTS
              value: regional
            {{- with .Values.artifacts.s3.endpointUrl }}
            - name: MLFLOW_S3_ENDPOINT_URL
              value: {{ . | quote }}
            {{- end }}
            {{- with .Values.artifacts.s3.uploadExtraArgs }}
            - name: MLFLOW_S3_UPLOAD_EXTRA_ARGS
              value: {{ toJson . | quote }}
            {{- end }}
            {{- with .Values.server.extraEnv }}
            {{- toYaml . | nindent 12 }}
            {{- end }}
          ports:
            - name: http
              containerPort: {{ .Values.server.port }}
              protocol: TCP
          startupProbe:
            httpGet:
              path: {{ include "mlflow.healthPath" . }}
              port: http
            {{- toYaml .Values.startupProbe | nindent 12 }}
          livenessProbe:
            httpGet:
              path: {{ include "mlflow.healthPath" . }}
              port: http
            {{- toYaml .Values.livenessProbe | nindent 12 }}
          readinessProbe:
            httpGet:
              path: {{ include "mlflow.healthPath" . }}
              port: http
            {{- toYaml .Values.readinessProbe | nindent 12 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: tmp
              mountPath: /tmp
      volumes:
        {{- include "mlflow.tmpVolume" . | nindent 8 }}
      {{- if .Values.topologySpread.enabled }}
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: topology.kubernetes.io/zone
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "mlflow.selectorLabels" . | nindent 14 }}
              app.kubernetes.io/component: tracking-server
        - maxSkew: 1
          topologyKey: kubernetes.io/hostname
          whenUnsatisfiable: ScheduleAnyway
          labelSelector:
            matchLabels:
              {{- include "mlflow.selectorLabels" . | nindent 14 }}
              app.kubernetes.io/component: tracking-server
      {{- end }}
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
