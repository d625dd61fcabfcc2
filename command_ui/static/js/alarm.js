/**
 * How a guard's phone calls for attention: a beep through WebAudio and a vibration. Browsers let a page make
 * sound only after a tap, so the page offers a "turn on alert sound" button that unlocks the audio.
 */

let audio = null;

/** Unlock sound (call from a tap); resolves to whether sound is now available. */
export async function unlockSound() {
  const Context = window.AudioContext ?? window.webkitAudioContext;
  if (!Context) return false;
  audio ??= new Context();
  if (audio.state === "suspended") await audio.resume();
  return audio.state === "running";
}

/** Whether sound is already unlocked. */
export function soundReady() {
  return audio?.state === "running";
}

/** Beep three times (two tones) and vibrate; returns silently where either is unavailable. */
export function ring() {
  navigator.vibrate?.([400, 150, 400, 150, 400]);
  if (!soundReady()) return;
  const start = audio.currentTime + 0.05;
  for (let i = 0; i < 3; i += 1) {
    for (const [offset, frequency] of [[0, 880], [0.18, 660]]) {
      const at = start + i * 0.6 + offset;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.type = "square";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.17);
      osc.connect(gain).connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.18);
    }
  }
}
