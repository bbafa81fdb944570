{{/*
Names, labels, images and the service catalog shared by every template.
*/}}

{{- define "cinema.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The name of one component: <fullname>-<component>. Call with (list $ "seats"). */}}
{{- define "cinema.name" -}}
{{- printf "%s-%s" (include "cinema.fullname" (index . 0)) (index . 1) -}}
{{- end -}}

{{- define "cinema.selectorLabels" -}}
app.kubernetes.io/name: {{ (index . 0).Chart.Name }}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "cinema.labels" -}}
{{ include "cinema.selectorLabels" . }}
app.kubernetes.io/version: {{ (index . 0).Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ (index . 0).Release.Service }}
app.kubernetes.io/part-of: cinema
helm.sh/chart: {{ printf "%s-%s" (index . 0).Chart.Name (index . 0).Chart.Version }}
{{- end -}}

{{/* An image reference from {repository, tag, digest}; call with (list $ image defaultTag). */}}
{{- define "cinema.image" -}}
{{- $image := index . 1 -}}
{{- if $image.digest -}}
{{- printf "%s@%s" $image.repository $image.digest -}}
{{- else -}}
{{- printf "%s:%s" $image.repository (default (index . 2) $image.tag) -}}
{{- end -}}
{{- end -}}

{{/* A cinema binary's image: <image.repository>/cinema-<service>:<tag>. */}}
{{- define "cinema.serviceImage" -}}
{{- $root := index . 0 -}}
{{- $image := dict "repository" (printf "%s/cinema-%s" $root.Values.image.repository (index . 1)) "tag" $root.Values.image.tag "digest" "" -}}
{{- include "cinema.image" (list $root $image $root.Chart.AppVersion) -}}
{{- end -}}

{{/*
The gRPC workloads and what they serve (design.md §10: under Linkerd only the gateway's
identity may call public RPCs, and the orchestrator's alone the internal ones):
  public     routed by the gateway; the gateway's identity only
  operator   routed by the gateway for the `operator` role (gRPC only; the service checks
             the role); the gateway's identity only
  internal   the orchestrator's identity only
  orchestratorCalls  the public RPCs the orchestrator calls too (exact methods; the
             gateway's and the orchestrator's identities)
  reads      the idempotent public RPCs (mesh timeout + retries)
  callsPeers the orchestrator calls the internal RPCs
*/}}
{{- define "cinema.catalog" -}}
screening:
  public: [cinema.screening.v1.ScreeningService]
  internal: []
  reads: [{service: cinema.screening.v1.ScreeningService, methods: [ListMovies, ListScreenings]}]
seats:
  public: [cinema.seats.v1.SeatsService]
  internal: [cinema.seats.v1.SeatInventoryService]
  # BookTickets checks the screening and seats against the seat map (orchestrator/src/service.rs).
  orchestratorCalls: [{service: cinema.seats.v1.SeatsService, methods: [GetSeatMap]}]
  reads: [{service: cinema.seats.v1.SeatsService, methods: [GetSeatMap]}]
payment:
  public: []
  internal: [cinema.payment.v1.PaymentService]
  reads: []
reservation:
  public: [cinema.reservation.v1.BookingQueryService]
  operator: [cinema.reservation.v1.BookingViewAdmin]
  internal: [cinema.reservation.v1.ReservationService]
  reads: [{service: cinema.reservation.v1.BookingQueryService, methods: [GetBooking, ListBookings]}]
notification:
  public: [cinema.notification.v1.NotificationService]
  internal: []
  reads: [{service: cinema.notification.v1.NotificationService, methods: [ListNotifications]}]
loyalty:
  public: [cinema.loyalty.v1.LoyaltyService]
  internal: []
  reads: [{service: cinema.loyalty.v1.LoyaltyService, methods: [GetPoints]}]
orchestrator:
  public: [cinema.booking.v1.BookingService, grpc.reflection.v1.ServerReflection, grpc.reflection.v1alpha.ServerReflection]
  operator: [cinema.booking.v1.SagaOperatorService]
  internal: []
  reads: []
  callsPeers: true
{{- end -}}

{{- define "cinema.securityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Pod-level security context; call with the uid. */}}
{{- define "cinema.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ . }}
runAsGroup: {{ . }}
fsGroup: {{ . }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "cinema.terminationGracePeriodSeconds" -}}
{{- add .Values.drain.preStopSeconds .Values.drain.drainDelaySeconds .Values.drain.inFlightSeconds -}}
{{- end -}}

{{/* Pod annotations joining the mesh. */}}
{{- define "cinema.meshAnnotations" -}}
{{- if .Values.mesh.linkerd.enabled }}
linkerd.io/inject: enabled
# The proxy starts before and stops after the app (native sidecar).
config.beta.linkerd.io/proxy-enable-native-sidecar: "true"
{{- end }}
{{- end -}}

{{/*
Where the databases live: bundled, cnpg or external (postgres.mode). The key before it,
postgres.enabled, still chooses external servers when false.
*/}}
{{- define "cinema.postgresMode" -}}
{{- $pg := .Values.postgres -}}
{{- if and (hasKey $pg "enabled") (eq (toString $pg.enabled) "false") (eq $pg.mode "bundled") -}}
external
{{- else -}}
{{- $pg.mode -}}
{{- end -}}
{{- end -}}

{{/* The database URL of one service (an external server gets /cinema_<service>). */}}
{{- define "cinema.databaseUrl" -}}
{{- $root := index . 0 -}}
{{- $service := index . 1 -}}
{{- $pg := $root.Values.postgres -}}
{{- $mode := include "cinema.postgresMode" $root -}}
{{- if eq $mode "bundled" -}}
{{- printf "postgres://%s:%s@%s:5432/cinema_%s" $pg.user (include "cinema.postgresPassword" $root | urlquery) (include "cinema.name" (list $root "postgres")) $service -}}
{{- else if eq $mode "cnpg" -}}
{{- /* The service's own role and database, on the primary (the Cluster's -rw Service). */ -}}
{{- printf "postgres://cinema_%s:%s@%s-rw:5432/cinema_%s" $service (include "cinema.cnpgPassword" (list $root $service) | urlquery) (include "cinema.name" (list $root "postgres")) $service -}}
{{- else if hasKey $pg.external.urls $service -}}
{{- get $pg.external.urls $service -}}
{{- else -}}
{{- printf "%s/cinema_%s" (required "postgres.external.url (or .urls, or .existingSecret) is required when postgres.mode is external" $pg.external.url | trimSuffix "/") $service -}}
{{- end -}}
{{- end -}}

{{/* The Secret (kubernetes.io/basic-auth) of a service's CloudNativePG role: (list $ service). */}}
{{- define "cinema.cnpgRoleSecret" -}}
{{- printf "%s-%s" (include "cinema.name" (list (index . 0) "postgres")) (index . 1) -}}
{{- end -}}

{{/*
The password of a service's CloudNativePG role: the one already in its Secret (upgrades
keep it), else a new random one; computed once per render. (list $ service)
*/}}
{{- define "cinema.cnpgPassword" -}}
{{- $root := index . 0 -}}
{{- $service := index . 1 -}}
{{- if not (hasKey $root.Values.postgres "generatedPasswords") -}}
{{- $_ := set $root.Values.postgres "generatedPasswords" dict -}}
{{- end -}}
{{- $passwords := $root.Values.postgres.generatedPasswords -}}
{{- if not (hasKey $passwords $service) -}}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (include "cinema.cnpgRoleSecret" (list $root $service)) -}}
{{- $password := randAlphaNum 32 -}}
{{- if and $existing $existing.data (hasKey $existing.data "password") -}}
{{- $password = index $existing.data "password" | b64dec -}}
{{- end -}}
{{- $_ := set $passwords $service $password -}}
{{- end -}}
{{- get $passwords $service -}}
{{- end -}}

{{/*
Replicas of every JetStream stream and KV bucket (CINEMA_STREAM_REPLICAS): nats.streamReplicas,
or when 0, 3 for the chart's NATS cluster and 1 otherwise; never more than the servers the
chart runs.
*/}}
{{- define "cinema.streamReplicas" -}}
{{- $nats := .Values.nats -}}
{{- $servers := ternary (int $nats.cluster.replicas) 1 (and $nats.enabled $nats.cluster.enabled) -}}
{{- $replicas := int $nats.streamReplicas -}}
{{- if eq $replicas 0 -}}
{{- $replicas = min 3 $servers -}}
{{- end -}}
{{- if and $nats.enabled (gt $replicas $servers) -}}
{{- fail (printf "nats.streamReplicas is %d, but the chart runs %d JetStream server(s) (nats.cluster)" $replicas $servers) -}}
{{- end -}}
{{- $replicas -}}
{{- end -}}

{{- define "cinema.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s:4222" (include "cinema.name" (list . "nats")) -}}
{{- else -}}
{{- required "nats.external.url is required when nats.enabled is false" .Values.nats.external.url -}}
{{- end -}}
{{- end -}}

{{/*
The in-chart Postgres password: postgres.password, else the one already in the cluster's
Secret (upgrades keep it), else a new random one. Computed once per render.
*/}}
{{- define "cinema.postgresPassword" -}}
{{- if not .Values.postgres.password -}}
{{- $existing := lookup "v1" "Secret" .Release.Namespace (include "cinema.name" (list . "postgres")) -}}
{{- $password := randAlphaNum 32 -}}
{{- if and $existing $existing.data (hasKey $existing.data "password") -}}
{{- $password = index $existing.data "password" | b64dec -}}
{{- end -}}
{{- $_ := set .Values.postgres "password" $password -}}
{{- end -}}
{{- .Values.postgres.password -}}
{{- end -}}
