// Tells a user in another tab that messages arrived: "(3) wampchat" in the
// title, and a short beep when the sound toggle is on.

const SOUND_KEY = "wampchat.sound";

export class BackgroundNotifier {
  constructor(doc = document) {
    this.doc = doc;
    this.baseTitle = doc.title;
    this.unseen = 0;
    this.soundOn = localStorage.getItem(SOUND_KEY) === "on";
    this._audio = null;
    doc.addEventListener("visibilitychange", () => { if (!doc.hidden) this.reset(); });
  }

  setSound(on) {
    this.soundOn = on;
    localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  }

  /** Count a message from someone else; only counts while the tab is in the background. */
  messageArrived() {
    if (!this.doc.hidden) return;
    this.unseen += 1;
    this.doc.title = `(${this.unseen}) ${this.baseTitle}`;
    if (this.soundOn) this._beep();
  }

  reset() {
    this.unseen = 0;
    this.doc.title = this.baseTitle;
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
