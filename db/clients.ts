/** Clients: found by their derived id (db/ids.ts), created race-safe by unique index. */
import { capabilitiesOf } from '../common/channels';
import type { ChannelKind } from '../common/domain';
import { displayTextOrNull } from '../common/free-form';
import { clientIdFor } from './ids';
import { Client, isDuplicateKeyError } from './models';

export interface ClientFound {
  clientId: string;
  /** No client had this address, hence no conversation with it exists yet either. */
  created: boolean;
}

/** Finds the client by address, or creates it named from the contact name Infobip gave. Race-safe by unique index. */
export async function findOrCreateClient(
  kind: ChannelKind,
  address: string,
  contactName: string | null,
  /** Insert without looking first (a customer with no conversation on this channel is usually new): one command. */
  likelyNew = false,
): Promise<ClientFound> {
  const addressKind = capabilitiesOf(kind).customerAddress;
  const id = clientIdFor(addressKind, address);
  if (!likelyNew && (await Client.exists({ _id: id }))) return { clientId: id, created: false };
  try {
    // Every client is created here (inbound contact names, names agents type in create chat, dialogs, batches):
    // bidi controls stripped once, so no name reorders the console around it.
    await Client.create({ _id: id, addressKind, address, name: displayTextOrNull(contactName, 200) ?? address });
    return { clientId: id, created: true };
  } catch (err) {
    if (!isDuplicateKeyError(err)) throw err;
    if (likelyNew && (await Client.exists({ _id: id }))) return { clientId: id, created: false };
    // A client stored with a random id (before derived ids): found by its fields (a scan, once per new conversation).
    const existing = await Client.findOne({ addressKind, address }).lean();
    return { clientId: existing!._id, created: false };
  }
}

/** Whether a client with this id is stored. */
export async function clientExists(clientId: string): Promise<boolean> {
  return (await Client.exists({ _id: clientId })) !== null;
}
