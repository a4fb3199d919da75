"""The catalogue's hub-only lines: types no Engine sends or accepts.

evwire.schema reads them after its own lines (the Engine's link), in the same
format. CPython loads them with evwire.schema; MicroPython reads them only
when a type is not among the Engine's lines, and lets the module go again
(the Engine holds none of this text: about 3 KB of heap).
"""
TEXT = (
    "\n"
    # Monitor -> Central
    "auth_request: timestamp:ts nonce:id mac:str | cp_id:id driver_id:id\n"
    "register_request: cp_id:id timestamp:ts max_charging_rate_kw:kw | location:str"
    " auth_list_version:id\n"
    "heartbeat_request: cp_id:id status:str timestamp:ts | session_id:id? auth_list_version:id\n"
    "status_update: cp_id:id status:str timestamp:ts | reason:txt?\n"
    "fault_notification: cp_id:id fault_type:str timestamp:ts | session_id:id? message:txt\n"
    "recovery_notification: cp_id:id timestamp:ts |\n"
    # Central -> Monitor
    "auth_response: status:str message:txt | reason:txt?\n"
    "register_response: status:str message:txt | reason:txt? cp_status:str price_per_kwh:price\n"
    "heartbeat_response: status:str | cp_status:str limit_kw:kw?\n"
    "stop_cp_command: cp_id:id | reason:txt? timestamp:ts\n"
    "resume_cp_command: cp_id:id | timestamp:ts\n"
    # the offline authorisation list, in pages (entries: maps {driver_id, card_uid?});
    # with base_version, a change to that version: entries added or changed, removed
    # the driver ids no longer listed
    "local_auth_list: cp_id:id version:id page:lim pages:lim entries:list"
    " price_per_kwh:price | timestamp:ts base_version:id removed:list\n"
    "local_charge_response: status:str message:txt cp_id:id | session_id:id? driver_id:id?"
    " reason:txt?\n"
    # Driver -> Central
    "charge_request: cp_id:id driver_id:id timestamp:ts | expires_at:ts mac:str\n"
    "stop_charging_request: cp_id:id session_id:id timestamp:ts | driver_id:id mac:str\n"
    "available_cps_request: driver_id:id timestamp:ts | mac:str\n"
    "session_history_request: driver_id:id timestamp:ts | limit:lim mac:str\n"
    # Central -> Driver
    "charge_request_response: status:str message:txt session_id:id? cp_id:id"
    " | price_per_kwh:price reason:txt? driver_id:id\n"
    "stop_charging_response: status:str message:txt | session_id:id? driver_id:id reason:txt?\n"
    "available_cps_response: charging_points:list | status:str driver_id:id\n"
    "session_history_response: status:str sessions:list | driver_id:id\n"
    "charging_status_update: session_id:id cp_id:id status:str progress:pct | driver_id:id"
    " energy_consumed_kwh:kwh total_cost:money message:txt timestamp:ts limit_kw:kw\n"
    "charge_completion_notification: cp_id:id session_id:id energy_consumed_kwh:kwh"
    " total_cost:money | reason:txt timestamp:ts driver_id:id\n"
    # Admin -> Central
    "manual_command: command:str | token:str? cp_id:id? session_id:id? reason:txt?\n"
    "manual_command_response: status:str message:txt | data:any reason:txt?\n"
    # Central -> Kafka evcharge.cp-status (compacted, key cp_id: a CP's latest state)
    "cp_status: cp_id:id state:str event:str timestamp:ts | location:txt session_id:id?"
    " driver_id:id? power_kw:kw energy_kwh:kwh cost:money price_per_kwh:price max_kw:kw"
    " reason:txt? limit_kw:kw site_id:id?\n"
    # Central -> Kafka evcharge.dead-letter (a record set aside, with why)
    "dead_letter: reason:txt source_topic:str source_partition:nat source_offset:nat"
    " | key:txt? value:any value_size:nat value_sha256:str at:nat\n"
)
