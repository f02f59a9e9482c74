// The helpers of the chat callback service (chat.scxml, which names this file in its
// <script src>). Function declarations only: a context in which they ran serves the next
// session of the document (warm contexts), so keep top-level statements out of this file.
//
// They read the datamodel of chat.scxml (options, fields, gms_user, service_id, ...) and the
// current event (_event); the flow decides, these only compute.

// --- Options --------------------------------------------------------------------------

// An option's value, or null when the service does not set it.
function option(name) { return options[name] === undefined ? null : options[name]; }
// A boolean option: true or "true" (in any case).
function flag(name) {
  var v = options[name];
  return v === true || String(v).toLowerCase() === 'true';
}
// A numeric option, or `dflt` when it is unset, empty or not a number ("" is unset: a
// $token$ replaced by an empty request field leaves the default in force).
function numberOption(name, dflt) {
  var v = option(name);
  var n = (v === null || v === '') ? NaN : Number(v);
  return isNaN(n) ? dflt : n;
}
function waitForAgent() { return flag('_wait_for_agent'); }
function waitForConfirm() { return flag('_wait_for_user_confirm'); }
function confirmTimeout() { return numberOption('_user_confirm_timeout', 30); }
function maxConfirmAttempts() {
  return Math.max(1, Math.floor(numberOption('_max_number_of_user_availability_confirmation_attempts', 3)));
}
function confirmAttemptsLeft() { return confirm_attempts < maxConfirmAttempts(); }
// _on_user_confirm_timeout: CONNECT-ANYWAY (the default) or anything else (fail).
function connectAnyway() {
  var v = option('_on_user_confirm_timeout');
  return v === null || v === '' || String(v).trim().toUpperCase() === 'CONNECT-ANYWAY';
}
// The request may override the options the service lists in _overwritable_options;
// $token$ in option values is replaced by the request field of that name.
function resolveOptions() {
  var allowed = options._overwritable_options || [];
  if (typeof allowed === 'string') { allowed = allowed.split(','); }
  for (var i = 0; i < allowed.length; i++) {
    var name = String(allowed[i]).trim();
    if (fields[name] !== undefined && fields[name] !== '') { options[name] = fields[name]; }
  }
  var keys = Object.keys(options);
  for (var j = 0; j < keys.length; j++) {
    var v = options[keys[j]];
    if (typeof v === 'string' && v.indexOf('$') >= 0) {
      options[keys[j]] = substituteTokens(v);
    }
  }
}
// `text` with each $token$ (letters, digits, _) that names a request field replaced by the
// field's value, scanning left to right. (String scanning rather than a regular expression:
// a regex literal is compiled again at every call.)
function substituteTokens(text) {
  var out = '';
  var from = 0;
  for (;;) {
    var open = text.indexOf('$', from);
    var close = open < 0 ? -1 : text.indexOf('$', open + 1);
    if (close < 0) { return out + text.slice(from); }
    var token = text.slice(open + 1, close);
    if (!isToken(token)) {
      out += text.slice(from, open + 1);
      from = open + 1;
      continue;
    }
    out += text.slice(from, open) + (fields[token] !== undefined ? String(fields[token]) : '$' + token + '$');
    from = close + 1;
  }
}
function isToken(s) {
  if (s.length === 0) { return false; }
  for (var i = 0; i < s.length; i++) {
    var c = s.charCodeAt(i);
    var ok = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (!ok) { return false; }
  }
  return true;
}

// --- Requests and answers -------------------------------------------------------------

// The verb of the current request, as in its URL (check-queue-position).
function verb() { return _event.name.replace(/^gms\./, '').replace(/_/g, '-'); }
function error(exception, message) { return { message: message, exception: exception }; }
// Answers the current request. Answers wait in `replies` until the step's end, where the
// service index gets the record first (see the service state in chat.scxml).
function answer(status, body) { answerTo(_event.origin, status, body); }
// Answers the request `to` (an _event.origin kept earlier).
function answerTo(to, status, body) { replies.push({ to: to, status: status, body: body }); }
// Answers every request in `waiters` alike.
function answerAll(waiters, status, body) {
  for (var i = 0; i < waiters.length; i++) { answerTo(waiters[i], status, body); }
}
// Answers the current request with an answer computed whole ({status, body}: bookingError).
function answerWith(a) { answer(a.status, a.body); }
// Refuses the current request with a GMS error body.
function refuse(status, exception, message) { answer(status, error(exception, message)); }

// --- What the service answers ----------------------------------------------------------

function startChat() {
  dialog_id += 1;
  return {
    _dialog_id: String(dialog_id),
    _action: 'StartChat',
    _label: 'Start Chat',
    _start_chat_url: base_url + '/genesys/1/service/' + service_id + '/ixn/chat',
    _comet_url: base_url + '/genesys/cometd',
    _user_header: gms_user,
    _id_to_jump_before: 'exit://',
    _chat_parameters: { subject: fields.subject || 'None' },
    _id: service_id
  };
}
function position(d) {
  return {
    _position: d.position,
    _eta: d.eta,
    _total_waiting: d.total_waiting,
    _agent_ready_threshold_passed: d.threshold_passed,
    _agent_ready_threshold_passed_reason: d.reason
  };
}
function record() {
  var r = {
    _id: service_id,
    _service_name: service_name,
    _callback_state: callback_state,
    _callback_reason: callback_reason,
    _customer_number: fields._customer_number || null,
    _desired_time: isoTime(desiredMs()),
    _ttl: option('_ttl'),
    _url: base_url + '/genesys/1/service/' + service_id,
    _ors_session_id: _sessionid,
    _agent: agent,
    _interaction: interaction
  };
  if (cancel_reason !== null) { r._cancel_reason = cancel_reason; }
  if (disposition !== null) { r._disposition = disposition; }
  var keys = Object.keys(fields);
  for (var i = 0; i < keys.length; i++) {
    if (keys[i].indexOf('usr_') === 0) { r[keys[i]] = fields[keys[i]]; }
  }
  r._urs_virtual_queue = option('_urs_virtual_queue');
  r._expiration_time = isoTime(expires_at !== null ? expires_at : expiresAt());
  return r;
}
// What the service index holds changes with these.
function indexKey() {
  return callback_state + '|' + callback_reason + '|' + desired_ms + '|' + agent + '|' + interaction;
}
// A reschedule may also change the user data.
function updateUserData(d) {
  for (var k in d) {
    if (k.indexOf('usr_') === 0) { fields[k] = d[k]; }
  }
}
// The push provider of the device: its _device_os, or CometD when it names none (GMS's
// default provider; the seed's device sent an empty _device_os and was pushed over CometD).
function deviceOs() {
  var os = fields._device_os;
  return (os === undefined || os === null || String(os).trim() === '') ? 'comet' : String(os);
}
// Where the provider delivers: a CometD client is known by its gms_user; other providers
// by the _device_notification_id (the device token, the callback URL).
function deviceId() {
  if (deviceOs().trim().toLowerCase() === 'comet') { return gms_user; }
  return fields._device_notification_id || gms_user;
}
function deviceMessage(d) {
  return {
    _internal_message: d._application_message || '',
    _id: service_id,
    _display_message: d._display_message || ''
  };
}
// How many agents may turn the chat down before the service gives up.
function maxRouteAttempts() { return Math.max(1, Math.floor(numberOption('_max_transfer_to_agent_attempts', 5))); }
// May the chat interaction start now?
function chatMayStart() {
  return !waitForAgent() || confirmed || (agent !== null && !waitForConfirm());
}
// Tells the inbound session (if any still waits) what became of its chat.
function inboundTarget() { return '#_scxml_' + inbound; }

// --- Time ------------------------------------------------------------------------------
// Instants are milliseconds since the Unix epoch. The adapter reads the request's
// date-times (_desired_time, _new_desired_time) and hands each valid one over as
// <field>_ms as well; the flow only formats and compares.

// An instant as the API writes it (2030-01-31T14:30:00.000Z), or null.
function isoTime(ms) { return typeof ms === 'number' ? new Date(ms).toISOString() : null; }
// A <send> delay of `s` seconds.
function delay(s) { return Math.max(0, Math.round(s * 1000)) + 'ms'; }
// A <send> delay until the instant `ms`.
function delayUntil(ms) { return Math.max(0, Math.ceil(ms - Date.now())) + 'ms'; }
// _reject_future_desired_time: a count and a unit s, m, h, d, w or M (30 days).
function horizonMs() {
  var m = /^\s*(\d+(?:\.\d+)?)\s*([smhdwM]?)\s*$/.exec(String(option('_reject_future_desired_time') || '1M'));
  var unit = { '': 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800, M: 2592000 };
  return m ? Number(m[1]) * unit[m[2]] * 1000 : 2592000000;
}
// When a callback for the instant t is submitted to its queue.
function submitAt(t) { return t - 1000 * numberOption('_request_execution_time_buffer', 120); }
// Is the instant far enough ahead to wait for it? (A time already past queues now.)
function isAhead(t) { return typeof t === 'number' && submitAt(t) > Date.now(); }
// The desired time the record shows and expires from: the one booked, else the one asked
// for at creation, else the creation.
function desiredMs() {
  if (desired_ms !== null) { return desired_ms; }
  return typeof fields._desired_time_ms === 'number' ? fields._desired_time_ms : created_ms;
}
// The record lives _ttl seconds after the desired time.
function expiresAt() { return desiredMs() + numberOption('_ttl', 86400) * 1000; }
// Why the desired time in the request field `name` cannot be booked: the answer
// ({status, body}), or null when it can (or, unless required, when none is given).
function bookingError(name, required) {
  var value = _event.data[name];
  var t = _event.data[name + '_ms'];
  if ((value === undefined || value === null || value === '') && !required) { return null; }
  if (typeof t !== 'number') {
    return { status: 400, body: error('BadRequest', name + ' must be an ISO 8601 date-time such as 2030-01-31T14:30:00.000Z, not ' + JSON.stringify(value === undefined ? null : value)) };
  }
  if (!isAhead(t)) { return null; }
  if (!waitForAgent()) {
    return { status: 400, body: error('BadRequest', 'service ' + service_name + ' starts chats at once: it cannot schedule one for ' + value) };
  }
  if (t - Date.now() > horizonMs()) {
    return { status: 400, body: error('CallbackExceptionAvailability', name + ' ' + value + ' is farther ahead than ' + (option('_reject_future_desired_time') || '1M') + ' allows') };
  }
  // The server tells whether the office hours (_business_hours_service) are open then.
  if (_event.data[name + '_open'] === false) {
    return { status: 400, body: error('CallbackExceptionAvailability', name + ' ' + value + ' is outside the office hours of service ' + service_name + nextOpening(_event.data[name + '_next_opening'])) };
  }
  if (Number(_event.data._bucket_booked || 0) >= numberOption('_max_request_by_time_bucket', 100)) {
    return { status: 400, body: error('CallbackExceptionAvailability', 'the time slot of ' + value + ' is full') };
  }
  return null;
}

// '; the next opening is <time>', or nothing when there is none ahead.
function nextOpening(at) { return at ? '; the next opening is ' + at : ''; }

// --- Queue management ------------------------------------------------------------------

// Why a callback for now is refused while the office hours are closed
// (_enable_reject_out_of_office_hours; the server tells _office_open), or null.
function closedRefusal() {
  if (!flag('_enable_reject_out_of_office_hours') || _event.data._office_open !== false) { return null; }
  return { status: 400, body: error('CallbackExceptionAvailability', 'service ' + service_name + ' is closed now' + nextOpening(_event.data._office_next_opening)) };
}

// The first key of _mandatory_customer_lookup_keys (a comma-separated list, default
// _customer_number; empty: none) that the create request leaves out or empty, or null.
function missingLookupKey() {
  var list = option('_mandatory_customer_lookup_keys');
  var keys = String(list === null ? '_customer_number' : list).split(',');
  for (var i = 0; i < keys.length; i++) {
    var key = keys[i].trim();
    var v = _event.data[key];
    if (key !== '' && (v === undefined || v === null || String(v).trim() === '')) { return key; }
  }
  return null;
}
// The 400 for a create without a mandatory key, with the reason GMS gives (for any key: the
// lookup keys are what identifies the customer).
function missingKeyAnswer() {
  var body = error('CallbackExceptionMissingParameter', missingLookupKey() + ' is mandatory for service ' + service_name + ' (_mandatory_customer_lookup_keys)');
  body._callback_reason = 'FAIL_NO_CUSTOMER_NUMBER';
  return { status: 400, body: body };
}

// Why a new callback is refused (the answer), or null. The server counts the outstanding
// callbacks: _queued_in_service, and _queued_for_customer for the request's
// _customer_number.
function queueRefusal() {
  var d = _event.data;
  var cap = numberOption('_max_queued_callbacks_per_service', 1000);
  if (Number(d._queued_in_service || 0) >= cap) {
    return { status: 429, body: error('CallbackExceptionThrottled', 'service ' + service_name + ' already has ' + cap + ' callbacks outstanding') };
  }
  var given = option('_enable_in_queue_checking');
  var checking = (given === null ? 'true' : String(given)).toLowerCase();
  var most = checking === 'strict' ? 1 : checking === 'true' ? 2 : Infinity;
  if (Number(d._queued_for_customer || 0) >= most) {
    return { status: 400, body: error('CallbackExceptionInQueue', 'number ' + d._customer_number + ' already has ' + d._queued_for_customer + ' callback' + (most === 1 ? '' : 's') + ' outstanding') };
  }
  return null;
}
