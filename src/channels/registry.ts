/** Every channel type the service can deliver to; adding one is a file and a line here. */
import type { ChannelType } from './channel.js';
import { discordChannel } from './discord.js';
import { googleChatChannel } from './googlechat.js';
import { grafanaChannel } from './grafana.js';
import { hipchatChannel } from './hipchat.js';
import { mattermostChannel } from './mattermost.js';
import { msteamsChannel } from './msteams.js';
import { emailChannel } from './email.js';
import { githubChannel } from './github.js';
import { gitlabChannel } from './gitlab.js';
import { pagerdutyChannel } from './pagerduty.js';
import { slackChannel } from './slack.js';
import { webhookChannel } from './webhook.js';

export const CHANNEL_TYPES: readonly ChannelType[] = [
  webhookChannel,
  slackChannel,
  hipchatChannel,
  msteamsChannel,
  discordChannel,
  googleChatChannel,
  mattermostChannel,
  emailChannel,
  pagerdutyChannel,
  grafanaChannel,
  githubChannel,
  gitlabChannel,
];

const BY_TYPE = new Map(CHANNEL_TYPES.map((channelType) => [channelType.type, channelType]));

export function getChannelType(type: string): ChannelType | undefined {
  return BY_TYPE.get(type);
}
