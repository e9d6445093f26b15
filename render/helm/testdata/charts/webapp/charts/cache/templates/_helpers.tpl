{{- define "cache.fullname" -}}
{{- printf "%s-cache" .Release.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
