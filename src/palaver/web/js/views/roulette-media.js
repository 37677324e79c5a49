// What a Roulette call needs from the browser and the server before it starts: the camera and
// microphone, and the ICE (STUN/TURN) servers with a fresh TURN credential.

import { request } from "../api.js";
import { sessionToken } from "../session.js";

/** Why the camera could not be used, as the i18n key of a status line. */
export class CameraError extends Error {
  constructor(statusKey, cause) {
    super(statusKey);
    this.name = "CameraError";
    this.statusKey = statusKey;
    this.cause = cause;
  }
}

function cameraStatus(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
      return "roulette.status.camera_denied";
    case "NotReadableError":
    case "AbortError":
      return "roulette.status.camera_busy";
    default:
      return "roulette.status.no_camera";
  }
}

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 }, frameRate: { ideal: 24, max: 30 } };

/** The camera and microphone (the camera alone when there is no microphone); or a CameraError. */
export async function openCamera() {
  if (!navigator.mediaDevices?.getUserMedia) throw new CameraError("roulette.status.no_camera");
  try {
    return await navigator.mediaDevices.getUserMedia({ video: VIDEO, audio: true });
  } catch (error) {
    if (error?.name !== "NotFoundError" && error?.name !== "OverconstrainedError") {
      throw new CameraError(cameraStatus(error), error);
    }
  }
  try {
    return await navigator.mediaDevices.getUserMedia({ video: VIDEO });
  } catch (error) {
    throw new CameraError(cameraStatus(error), error);
  }
}

export function closeCamera(stream) {
  for (const track of stream?.getTracks() ?? []) track.stop();
}

// ---- ICE servers ---------------------------------------------------------------------------------

const POLICY_KEY = "palaver.iceTransportPolicy"; // "relay" forces TURN (used by the TURN tests)
const MARGIN_SECONDS = 60; // fetch a new credential this long before the old one expires
let cached = null;

function transportPolicy() {
  try {
    return localStorage.getItem(POLICY_KEY) === "relay" ? "relay" : "all";
  } catch {
    return "all";
  }
}

/** The RTCConfiguration for a call; the TURN credential is reused until shortly before it expires. */
export async function rtcConfiguration() {
  const now = Date.now() / 1000;
  const token = sessionToken();
  if (!cached || cached.token !== token || cached.expiresAt - MARGIN_SECONDS < now) {
    let body;
    try {
      body = await request("GET", "/roulette/ice-servers");
    } catch (error) {
      // Without STUN/TURN a call still works between hosts that reach each other directly.
      console.warn("roulette: no ICE servers", error);
      return { iceServers: [], iceTransportPolicy: transportPolicy() };
    }
    const expiresAt = Number(body.expires_at) || now + MARGIN_SECONDS * 2;
    cached = { token, servers: body.ice_servers ?? [], expiresAt };
  }
  return { iceServers: cached.servers, iceTransportPolicy: transportPolicy() };
}
