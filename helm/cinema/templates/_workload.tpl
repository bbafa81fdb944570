{{/* HorizontalPodAutoscaler for one Deployment: (list $ component autoscaling). */}}
{{- define "cinema.hpa" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $as := index . 2 -}}
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{ include "cinema.name" (list $root $component) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "cinema.labels" (list $root $component) | nindent 4 }}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{ include "cinema.name" (list $root $component) }}
  minReplicas: {{ $as.minReplicas }}
  maxReplicas: {{ $as.maxReplicas }}
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: {{ $as.targetCPUUtilizationPercentage }}
    {{- with $as.extraMetrics }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 300
{{- end -}}

{{/* PodDisruptionBudget for one Deployment: (list $ component pdb). */}}
{{- define "cinema.pdb" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: {{ include "cinema.name" (list $root $component) }}
  namespace: {{ $root.Release.Namespace }}
  labels:
    {{- include "cinema.labels" (list $root $component) | nindent 4 }}
spec:
  maxUnavailable: {{ (index . 2).maxUnavailable }}
  selector:
    matchLabels:
      {{- include "cinema.selectorLabels" (list $root $component) | nindent 6 }}
{{- end -}}

{{/* Linkerd failure accrual on a Service (per-endpoint ejection). */}}
{{- define "cinema.failureAccrual" -}}
{{- $fa := .Values.mesh.linkerd.failureAccrual -}}
balancer.linkerd.io/failure-accrual: consecutive
balancer.linkerd.io/failure-accrual-consecutive-max-failures: {{ $fa.consecutiveMaxFailures | quote }}
balancer.linkerd.io/failure-accrual-consecutive-min-penalty: {{ $fa.minPenalty | quote }}
balancer.linkerd.io/failure-accrual-consecutive-max-penalty: {{ $fa.maxPenalty | quote }}
{{- end -}}
