// A small Bayeux (CometD) long-polling client for the pages, over fetch so the device's
// gms_user goes in a header as GMS expects: handshake, subscribe, then /meta/connect in a
// loop, handing every delivery to `onMessage(channel, data)`.
export class Bayeux {
  constructor(url, gmsUser, onMessage) {
    this.url = url;
    this.gmsUser = gmsUser;
    this.onMessage = onMessage;
    this.clientId = null;
    this.id = 0;
    this.running = false;
  }

  async post(messages) {
    for (const m of messages) {
      m.id = String(++this.id);
      if (this.clientId) m.clientId = this.clientId;
    }
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', gms_user: this.gmsUser },
      body: JSON.stringify(messages),
    });
    if (!response.ok) throw new Error('CometD: ' + response.status);
    const replies = await response.json();
    for (const reply of replies) {
      if (!reply.channel.startsWith('/meta/') && reply.data !== undefined) this.onMessage(reply.channel, reply.data);
    }
    return replies;
  }

  async start(channels) {
    const [hello] = await this.post([{ channel: '/meta/handshake', version: '1.0', supportedConnectionTypes: ['long-polling'] }]);
    if (!hello.successful) throw new Error('CometD handshake refused');
    this.clientId = hello.clientId;
    for (const subscription of channels) {
      const [ok] = await this.post([{ channel: '/meta/subscribe', subscription }]);
      if (!ok.successful) throw new Error('CometD: cannot subscribe to ' + subscription);
    }
    this.running = true;
    (async () => {
      while (this.running) {
        try {
          await this.post([{ channel: '/meta/connect', connectionType: 'long-polling' }]);
        } catch (e) {
          await new Promise((r) => setTimeout(r, 1000));
        }
      }
    })();
  }

  stop() { this.running = false; }
}
