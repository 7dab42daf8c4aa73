// Tells a user in another tab that messages arrived with a short beep when
// the sound toggle is on (the unread count in the title and favicon is
// unread_badge.js's; desktop notifications are desktop_notify.js's).

const SOUND_KEY = "wampchat.sound";

export class BackgroundNotifier {
  constructor(doc = document) {
    this.doc = doc;
    this.soundOn = localStorage.getItem(SOUND_KEY) === "on";
    this._audio = null;
  }

  setSound(on) {
    this.soundOn = on;
    localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  }

  /** A message from someone else arrived: beep if the tab is in the background and sound is on. */
  messageArrived() {
    if (this.doc.hidden && this.soundOn) this._beep();
  }

  _beep() {
    try {
      this._audio = this._audio || new AudioContext();
      const osc = this._audio.createOscillator();
      const gain = this._audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.05;
      osc.connect(gain).connect(this._audio.destination);
      osc.start();
      osc.stop(this._audio.currentTime + 0.12);
    } catch (e) { /* no audio here: the title badge is enough */ }
  }
}
