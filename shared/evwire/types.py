# Every message type on the wire, in one place (the seed's improvement 1).
# Grouped by the link that carries it; see schema.py for the fields.

# Monitor -> Engine
HEALTH_CHECK_REQUEST = "health_check_request"
START_CHARGING_COMMAND = "start_charging_command"
STOP_CHARGING_COMMAND = "stop_charging_command"
CHARGE_COMPLETION_ACK = "charge_completion_ack"
# Central -> Monitor -> Engine: the power this CP may draw now (a site's share)
SET_CHARGING_LIMIT = "set_charging_limit"

# Monitor <-> Engine link authentication (mutual challenge-response, evwire.link_auth)
LINK_HELLO = "link_hello"
LINK_CHALLENGE = "link_challenge"
LINK_AUTH = "link_auth"
LINK_AUTH_RESPONSE = "link_auth_response"

# Engine -> Monitor (charging_data / charge_completion also go on to Kafka)
HEALTH_CHECK_RESPONSE = "health_check_response"
COMMAND_RESPONSE = "command_response"
CHARGING_DATA = "charging_data"
CHARGE_COMPLETION = "charge_completion"
ERROR_RESPONSE = "error_response"
LOCAL_CHARGE_REQUEST = "local_charge_request"

# Monitor -> Central
AUTH_REQUEST = "auth_request"
REGISTER_REQUEST = "register_request"
HEARTBEAT_REQUEST = "heartbeat_request"
STATUS_UPDATE = "status_update"
FAULT_NOTIFICATION = "fault_notification"
RECOVERY_NOTIFICATION = "recovery_notification"

# Central -> Monitor
AUTH_RESPONSE = "auth_response"
REGISTER_RESPONSE = "register_response"
HEARTBEAT_RESPONSE = "heartbeat_response"
STOP_CP_COMMAND = "stop_cp_command"
RESUME_CP_COMMAND = "resume_cp_command"
LOCAL_CHARGE_RESPONSE = "local_charge_response"
LOCAL_AUTH_LIST = "local_auth_list"  # the offline authorisation list, a page

# Driver -> Central
CHARGE_REQUEST = "charge_request"
STOP_CHARGING_REQUEST = "stop_charging_request"
AVAILABLE_CPS_REQUEST = "available_cps_request"
SESSION_HISTORY_REQUEST = "session_history_request"

# Central -> Driver
CHARGE_REQUEST_RESPONSE = "charge_request_response"
STOP_CHARGING_RESPONSE = "stop_charging_response"
AVAILABLE_CPS_RESPONSE = "available_cps_response"
SESSION_HISTORY_RESPONSE = "session_history_response"
CHARGING_STATUS_UPDATE = "charging_status_update"
CHARGE_COMPLETION_NOTIFICATION = "charge_completion_notification"  # Driver-side alias

# Admin -> Central
MANUAL_COMMAND = "manual_command"
MANUAL_COMMAND_RESPONSE = "manual_command_response"

# Central -> Kafka evcharge.dead-letter: a record set aside, with the reason
DEAD_LETTER = "dead_letter"

# Central -> Kafka evcharge.cp-status: a CP's latest state and session figures
CP_STATUS = "cp_status"
# Its `event`: what changed (the record is always the CP's whole current state)
STATUS_EVENT_STATE = "state"
STATUS_EVENT_SESSION_START = "session_start"
STATUS_EVENT_SESSION_LIVE = "session_live"
STATUS_EVENT_SESSION_END = "session_end"

# Local events of the Driver's own connection (never on the wire).
CONNECTION_LOST = "connection_lost"
CONNECTION_ERROR = "connection_error"

# The catalogue pairs each request with its reply type (the seed's names are
# not regular: charge_request -> charge_request_response, auth_request ->
# auth_response). Commands are answered with command_response.
REPLY_TYPE = {
    AUTH_REQUEST: AUTH_RESPONSE,
    REGISTER_REQUEST: REGISTER_RESPONSE,
    HEARTBEAT_REQUEST: HEARTBEAT_RESPONSE,
    HEALTH_CHECK_REQUEST: HEALTH_CHECK_RESPONSE,
    LOCAL_CHARGE_REQUEST: LOCAL_CHARGE_RESPONSE,
    CHARGE_REQUEST: CHARGE_REQUEST_RESPONSE,
    STOP_CHARGING_REQUEST: STOP_CHARGING_RESPONSE,
    AVAILABLE_CPS_REQUEST: AVAILABLE_CPS_RESPONSE,
    SESSION_HISTORY_REQUEST: SESSION_HISTORY_RESPONSE,
    MANUAL_COMMAND: MANUAL_COMMAND_RESPONSE,
}

# Status words
SUCCESS = "success"
FAILURE = "failure"
ENGINE_OK = "OK"
ENGINE_KO = "KO"

# Charge point states as Central shows them.
CP_DISCONNECTED = "DISCONNECTED"
CP_AVAILABLE = "AVAILABLE"
CP_CHARGING = "CHARGING"
CP_STOPPED = "STOPPED"
CP_FAULTED = "FAULTED"
CP_STATES = (CP_DISCONNECTED, CP_AVAILABLE, CP_CHARGING, CP_STOPPED, CP_FAULTED)

# Why a session ended (charge_completion.reason).
REASON_STOPPED = "stopped"
REASON_UNPLUGGED = "unplugged"
REASON_EV_FULL = "ev_full"
REASON_FAULT = "fault"
REASON_MONITOR_LOST = "monitor_lost"
REASON_NO_VEHICLE = "no_vehicle"
REASON_CP_STOPPED = "cp_stopped"
REASON_START_FAILED = "start_failed"
REASON_CLOSED_BY_OPERATOR = "closed_by_operator"

# Kafka topics.
TOPIC_CP_EVENTS = "evcharge.cp-events"
TOPIC_DRIVER_EVENTS = "evcharge.driver-events"
TOPIC_DRIVER_REQUESTS = "evcharge.driver-requests"
TOPIC_DEAD_LETTER = "evcharge.dead-letter"
TOPIC_CP_STATUS = "evcharge.cp-status"  # compacted, key cp_id (hub/evcentral/status_feed.py)
CENTRAL_GROUP = "evcharge-central"
