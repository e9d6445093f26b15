{{- define "op.labels" -}}
app.kubernetes.io/name: backup-operator
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "op.schedule" -}}
apiVersion: backup.example.com/v1
kind: BackupSchedule
metadata:
  name: {{ .s.name }}
  namespace: {{ .root.Release.Namespace }}
  labels:
    {{- include "op.labels" .root | nindent 4 }}
spec:
  cron: {{ .s.cron | quote }}
  retention: {{ .s.retention | default 7 }}
{{- end }}
