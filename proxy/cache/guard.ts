// The near-miss guard: a semantic candidate (similar embedding, same context) is served only when
// the two questions agree on the details embeddings blur. Sentence embeddings put "How do I reset
// my password?" and "How do I not reset my password?" closer together (0.97 with USE lite) than
// two honest paraphrases (0.92): similarity alone cannot tell a paraphrase from a different
// question that shares its words. Rejected when the two texts differ in:
//   negation  — how many negations (not, no, never, n't, without, cannot, except, unless, …);
//   numbers   — the multiset of numbers, digits and number words alike ("5" = "five",
//               "twenty-five" = 25, "1,000" = 1000, ordinals "3rd" = "third");
//   units     — the sequence of units and currencies ("5 miles to km" ≠ "5 km to miles");
//   time      — time references (today/tomorrow, weekdays, months, next/last week, daily/weekly…);
//   entities  — named things: capitalised words not at a sentence start, acronyms, quoted
//               strings, code identifiers (camelCase, snake_case, dotted.names, calls(), paths,
//               flags), well-known lowercase names (python, docker, france…); each one must appear
//               in the other text too (as any token, so a sentence-initial "Python" still counts);
//   polarity  — one asks for a word, the other for its opposite (enable/disable, increase/decrease,
//               before/after, min/max, on/off, good/bad…);
//   order     — the same entities or units in another order ("from Boston to Chicago");
//   modality  — the modal verbs, by class (can/could, may/might, will/shall, would, should/ought,
//               must): "may have fallen" ≠ "had fallen", "will" ≠ "would". A modal right before
//               I/we/you/one is question scaffolding and ignored ("How can I" = "How do I",
//               "Could you explain" = "Explain");
//   tense     — past against present: auxiliaries (was/were/did/had vs is/are/do/does/has/have,
//               not after a modal or "to") and past forms (a bare -ed verb, a few irregular pasts);
//               and the same content word as a bare -ed past in one text only ("closed" vs "closes";
//               a participle after be/have is voice or aspect: "is carried by ship" = "ships carry");
//   question  — who / when (= "what time") / where / why: "Who founded X?" ≠ "When was X founded?";
//   content words — a content word (after stop words, light stemming and a few synonyms are set
//               aside) that only one text has: "raw fish" vs "raw eggs" (substitution), "heat,
//               bruises" vs "heat exhaustion, bruises" (addition), a clause added or dropped.
//               Lower-case nouns are invisible to every rule above, and USE lite scores such pairs
//               0.95–0.99, as high as real paraphrases. STRICT_GUARD rejects any such change:
//               only rephrasings pass (how do I / how can I, what is / what's, plurals, active /
//               passive, word order, an added "please"). Measured on labelled news paraphrases
//               (MRPC), about one in ten one-word additions changes the meaning ("wife and son" /
//               "wife and unborn son" at 0.973) and similarity does not separate them, so the
//               default (DEFAULT_GUARD) refuses every changed content word too; it only sets aside
//               an attribution clause ("X said", "according to X") added, dropped or moved. One
//               word replaced by another in a long sentence (CLOSE_GUARD) made no wrong hit on
//               news paraphrases but serves "a cat's / a dog's immune system" in long prompts. LENIENT_GUARD (additions too, at any share) is kept
//               for measurement; see proxy/cache/README.md for the figures.
// Precision over recall: a rejected paraphrase costs one provider call; a wrong hit serves the
// answer to another question.

export type GuardReason = 'negation' | 'number' | 'unit' | 'time' | 'entity' | 'polarity' | 'order' | 'modality' | 'tense' | 'question' | 'substitution' | 'addition';

/** The similarity LENIENT_GUARD needs to let one or two changed content words through (USE lite). */
export const SUBSTITUTION_MIN_SIMILARITY = 0.95;

export interface GuardResult {
  ok: boolean;
  reason?: GuardReason;
  detail?: string;
  /** How an accepted pair differs: `same` text, a `rephrase` (no content word changed), or `close` (a few content words changed, at a high similarity). */
  kind?: HitKind;
}

export type HitKind = 'same' | 'rephrase' | 'close';

export interface GuardStrictness {
  /** minSimilarity[n - 1]: the similarity needed when n content words are added, dropped or substituted; more changes than entries: rejected. */
  minSimilarity: number[];
  /**
   * The most the changed content words may be of all content words of the two texts (|changed| /
   * |union|) for minSimilarity to let them through: one changed word in a 20-word news sentence
   * is a detail, in "Can dogs eat grapes?" it is the question. Absent: no limit.
   */
  maxChangedShare?: number;
  /** Set aside attribution clauses ("X said", "according to X") when comparing (see stripAttribution). */
  attribution?: boolean;
  /** Whether minSimilarity also lets through words one text adds and the other does not replace (default: yes); otherwise only substitutions. */
  additions?: boolean;
}

/** Rephrasings only: no content word may change. */
export const STRICT_GUARD: GuardStrictness = { minSimilarity: [] };
/** One or two changed content words at similarity ≥ SUBSTITUTION_MIN_SIMILARITY, at any share: more recall, wrong hits on held-out data. */
export const LENIENT_GUARD: GuardStrictness = { minSimilarity: [SUBSTITUTION_MIN_SIMILARITY, SUBSTITUTION_MIN_SIMILARITY] };
/**
 * The default since the third round of issue #17: STRICT_GUARD's rules, plus attribution clauses
 * set aside ("Police said the man was armed" = "The man was armed, police said" = "The man was
 * armed"; see stripAttribution). No content word may be added, dropped or replaced.
 */
export const DEFAULT_GUARD: GuardStrictness = { minSimilarity: [], attribution: true };
/**
 * Measured in the third round and NOT the default: DEFAULT_GUARD plus one content word replaced by
 * another (changed words, counted in both texts, at most 2 and at most CLOSE_MAX_CHANGED_SHARE of
 * the two texts' content words: a long sentence) at similarity ≥ CLOSE_MIN_SIMILARITY; additions
 * refused. On news paraphrases (MRPC) it made no wrong hit (a replaced word there is mostly a
 * synonym), but in a long prompt the one replaced word is often what is asked: "how the immune
 * system of a cat / dog responds …", "kitchen / bathroom sink", "chronic kidney / liver disease"
 * score 0.90–0.99 and it serves each the other's answer. Kept for measurement.
 */
export const CLOSE_MIN_SIMILARITY = 0.9;
export const CLOSE_MAX_CHANGED_SHARE = 0.15;
export const CLOSE_GUARD: GuardStrictness = { minSimilarity: [CLOSE_MIN_SIMILARITY, CLOSE_MIN_SIMILARITY], maxChangedShare: CLOSE_MAX_CHANGED_SHARE, attribution: true, additions: false };

/**
 * Word tables are looked up with user text (`w in SMALL`, `MODALS[w]`): they have no prototype, so
 * "constructor" or "__proto__" is not mistaken for a number, a unit or a modal.
 */
function table<T>(entries: Record<string, T>): Record<string, T> {
  return Object.assign(Object.create(null) as Record<string, T>, entries);
}

const NEGATIONS = new Set(['not', 'no', 'never', 'none', 'nobody', 'nothing', 'nowhere', 'neither', 'nor', 'without', 'cannot', 'except', 'excluding', 'unless', 'lacking']);

/** Modal verbs by class: a different class (or a modal on one side only) changes what is asserted. */
const MODALS = table<string>({
  can: 'can', could: 'can', cannot: 'can', "can't": 'can', "couldn't": 'can',
  may: 'may', might: 'may', "mightn't": 'may',
  will: 'will', shall: 'will', "won't": 'will', "shan't": 'will',
  would: 'would', "wouldn't": 'would',
  should: 'should', ought: 'should', "shouldn't": 'should',
  must: 'must', "mustn't": 'must',
});
/** After a modal, these subjects make it an inverted question or request ("can I", "could you"): scaffolding, not modality. */
const SCAFFOLD_SUBJECTS = new Set(['i', 'we', 'you', 'one', 'u']);
const PAST_AUX = new Set(['was', 'were', 'did', 'had', "wasn't", "weren't", "didn't", "hadn't"]);
const PRESENT_AUX = new Set([
  'is', 'are', 'am', 'do', 'does', 'has', 'have', "isn't", "aren't", "don't", "doesn't", "hasn't", "haven't",
  "i'm", "you're", "we're", "they're", "i've", "you've", "we've", "they've",
]);
/** Common irregular past forms (regular ones end in -ed). */
const IRREGULAR_PAST = new Set(
  'said told went came took made gave found won lost sold bought fell rose began saw knew thought became left held ran paid met sent built spent felt kept brought wrote drove grew threw flew broke chose spoke stole struck fought caught taught sought'.split(' '),
);
/** After these, a verb form is a participle or an infinitive, not a tense. */
const NO_TENSE_BEFORE = new Set([
  'to', 'be', 'been', 'being', 'is', 'are', 'am', 'was', 'were', 'has', 'have', 'had', 'get', 'got', 'gets',
  "isn't", "aren't", "wasn't", "weren't", "hasn't", "haven't", "hadn't",
]);
/** Question words that ask for different things (what / which / how are left out: they rephrase each other). */
const WH = table<string>({ who: 'who', whom: 'who', whose: 'who', when: 'when', where: 'where', why: 'why' });

const SMALL = table<number>({
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18, nineteen: 19,
  twenty: 20, thirty: 30, forty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90, dozen: 12,
});
const SCALES = table<number>({ hundred: 100, thousand: 1e3, million: 1e6, billion: 1e9, trillion: 1e12 });
const ORDINALS = table<number>({
  first: 1, second: 2, third: 3, fourth: 4, fifth: 5, sixth: 6, seventh: 7, eighth: 8, ninth: 9, tenth: 10,
  eleventh: 11, twelfth: 12, twentieth: 20, hundredth: 100,
});
/** "one" is a pronoun after these ("which one", "the one"). */
const ONE_PRONOUN_BEFORE = new Set(['which', 'this', 'that', 'the', 'each', 'any', 'every', 'another', 'a', 'some', 'no', 'other', 'one', 'only', 'right', 'wrong', 'new', 'old', 'last', 'first', 'next']);

const UNITS = table<string>({});
function unit(canon: string, ...forms: string[]): void {
  for (const f of [canon, ...forms]) UNITS[f] = canon;
}
unit('km', 'kms', 'kilometer', 'kilometers', 'kilometre', 'kilometres');
unit('mile', 'miles', 'mi');
unit('meter', 'meters', 'metre', 'metres');
unit('cm', 'centimeter', 'centimeters', 'centimetre', 'centimetres');
unit('mm', 'millimeter', 'millimeters', 'millimetre', 'millimetres');
unit('inch', 'inches');
unit('foot', 'feet', 'ft');
unit('yard', 'yards', 'yd');
unit('kg', 'kgs', 'kilogram', 'kilograms', 'kilo', 'kilos');
unit('gram', 'grams', 'g');
unit('lb', 'lbs', 'pound', 'pounds');
unit('ounce', 'ounces', 'oz');
unit('ton', 'tons', 'tonne', 'tonnes');
unit('liter', 'liters', 'litre', 'litres', 'l');
unit('ml', 'milliliter', 'milliliters', 'millilitre', 'millilitres');
unit('gallon', 'gallons', 'gal');
unit('cup', 'cups');
unit('celsius', 'centigrade', '°c', 'c°');
unit('fahrenheit', '°f', 'f°');
unit('kelvin');
unit('mph');
unit('kph', 'km/h', 'kmh');
unit('usd', 'dollar', 'dollars', '$', 'bucks');
unit('eur', 'euro', 'euros', '€');
unit('gbp', '£', 'sterling');
unit('jpy', 'yen', '¥');
unit('inr', 'rupee', 'rupees');
unit('cny', 'yuan', 'rmb');
unit('chf', 'franc', 'francs');
unit('btc', 'bitcoin', 'bitcoins');
unit('eth', 'ether', 'ethereum');
unit('percent', '%', 'pct', 'percentage');
unit('byte', 'bytes');
unit('bit', 'bits');
unit('kb', 'kilobyte', 'kilobytes');
unit('mb', 'megabyte', 'megabytes');
unit('gb', 'gigabyte', 'gigabytes');
unit('tb', 'terabyte', 'terabytes');
unit('ms', 'millisecond', 'milliseconds');
unit('sec', 'secs', 'seconds');
unit('minute', 'minutes', 'mins');
unit('hour', 'hours', 'hr', 'hrs');
unit('day', 'days');
unit('week', 'weeks');
unit('month', 'months');
unit('year', 'years', 'yr', 'yrs');
unit('calorie', 'calories', 'kcal');
unit('watt', 'watts', 'kw', 'kwh');
unit('volt', 'volts');

const TIME_WORDS = new Set([
  'today', 'tomorrow', 'yesterday', 'tonight', 'morning', 'afternoon', 'evening', 'overnight', 'weekend', 'weekday',
  'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday',
  'january', 'february', 'march', 'april', 'june', 'july', 'august', 'september', 'october', 'november', 'december',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec',
  'hourly', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly', 'annually', 'annual',
  'spring', 'summer', 'autumn', 'fall', 'winter', 'q1', 'q2', 'q3', 'q4',
]);
const TIME_RELATIVE = new Set(['last', 'next', 'this', 'previous', 'past', 'coming', 'upcoming', 'current']);
const TIME_SPANS = new Set(['week', 'weeks', 'month', 'months', 'year', 'years', 'quarter', 'day', 'days', 'weekend', 'night', 'time', 'season', 'decade', 'century']);

/** Well-known names often written in lower case (still entities). */
const KNOWN_NAMES = new Set(
  (
    'python java javascript typescript rust ruby php kotlin swift scala perl haskell elixir erlang clojure golang fortran cobol lua dart julia matlab c++ c# ' +
    'react vue angular svelte django flask fastapi rails spring laravel express nextjs nodejs node deno bun jquery tensorflow pytorch pandas numpy ' +
    'docker kubernetes k8s terraform ansible jenkins nginx apache postgres postgresql mysql sqlite mongodb redis kafka rabbitmq elasticsearch clickhouse ' +
    'linux ubuntu debian windows macos ios android chrome firefox safari excel word powerpoint outlook slack zoom teams jira git github gitlab bitbucket ' +
    'aws azure gcp heroku vercel netlify stripe paypal shopify salesforce openai anthropic google microsoft apple amazon meta netflix tesla uber ' +
    'usa america canada mexico brazil argentina chile peru colombia uk england scotland ireland france germany spain portugal italy netherlands belgium ' +
    'switzerland austria sweden norway denmark finland poland greece turkey russia ukraine egypt nigeria kenya india china japan korea vietnam thailand ' +
    'indonesia philippines australia zealand israel iran iraq pakistan bangladesh singapore malaysia ' +
    'paris london berlin madrid rome lisbon amsterdam brussels vienna prague warsaw dublin stockholm oslo copenhagen helsinki athens istanbul moscow ' +
    'tokyo osaka beijing shanghai seoul delhi mumbai bangalore sydney melbourne toronto vancouver montreal chicago boston seattle miami denver dallas ' +
    'houston austin atlanta york francisco angeles vegas washington cairo dubai lagos nairobi singapore bangkok jakarta manila'
  ).split(' '),
);

/** Words and their opposites; a candidate is rejected when one text has a word and the other its opposite. */
const OPPOSITES: [RegExp, RegExp][] = [
  [/^enabl(e|ed|es|ing)$/, /^disabl(e|ed|es|ing)$/],
  [/^increas(e|ed|es|ing)$/, /^decreas(e|ed|es|ing)$/],
  [/^(add|adds|added|adding)$/, /^(remove|removes|removed|removing|delete|deletes|deleted|deleting)$/],
  [/^(buy|buys|buying|bought|purchase)$/, /^(sell|sells|selling|sold)$/],
  [/^before$/, /^after$/],
  [/^(min|minimum|lowest|smallest|least|cheapest)$/, /^(max|maximum|highest|largest|biggest|most)$/],
  [/^(best|better)$/, /^(worst|worse)$/],
  [/^(higher|more|greater|larger|bigger)$/, /^(lower|less|fewer|smaller)$/],
  [/^(upload|uploads|uploading|uploaded)$/, /^(download|downloads|downloading|downloaded)$/],
  [/^(import|imports|importing|imported)$/, /^(export|exports|exporting|exported)$/],
  [/^(encrypt|encrypts|encrypting|encrypted|encryption)$/, /^(decrypt|decrypts|decrypting|decrypted|decryption)$/],
  [/^(install|installs|installing|installed)$/, /^(uninstall|uninstalls|uninstalling|uninstalled)$/],
  [/^(login|log-in|signin|sign-in)$/, /^(logout|log-out|signout|sign-out)$/],
  [/^(start|starts|starting|started)$/, /^(stop|stops|stopping|stopped)$/],
  [/^(open|opens|opening|opened)$/, /^(close|closes|closing|closed)$/],
  [/^(lock|locks|locking|locked)$/, /^(unlock|unlocks|unlocking|unlocked)$/],
  [/^(show|shows|showing|shown|display)$/, /^(hide|hides|hiding|hidden)$/],
  [/^(subscribe|subscribes|subscribed|subscribing)$/, /^(unsubscribe|unsubscribes|unsubscribed|unsubscribing|cancel)$/],
  [/^(include|includes|including|included)$/, /^(exclude|excludes|excluded)$/],
  [/^(allow|allows|allowed|allowing|permit)$/, /^(deny|denies|denied|block|blocks|blocked|forbid)$/],
  [/^(accept|accepts|accepted|accepting)$/, /^(reject|rejects|rejected|rejecting|decline|declined)$/],
  [/^(push|pushes|pushing|pushed)$/, /^(pull|pulls|pulling|pulled)$/],
  [/^(input|inputs)$/, /^(output|outputs)$/],
  [/^(send|sends|sending|sent)$/, /^(receive|receives|receiving|received)$/],
  [/^(connect|connects|connecting|connected)$/, /^(disconnect|disconnects|disconnecting|disconnected)$/],
  [/^(win|wins|winning|won)$/, /^(lose|loses|losing|lost)$/],
  [/^(true|yes)$/, /^(false)$/],
  [/^(positive)$/, /^(negative)$/],
  [/^(hot|hotter|warm|warmer|heat)$/, /^(cold|colder|cool|cooler)$/],
  [/^(early|earlier|earliest)$/, /^(late|later|latest)$/],
  [/^(fast|faster|fastest|quick|quicker)$/, /^(slow|slower|slowest)$/],
  [/^(north|northern)$/, /^(south|southern)$/],
  [/^(east|eastern)$/, /^(west|western)$/],
  [/^(left)$/, /^(right)$/],
  [/^(top)$/, /^(bottom)$/],
  [/^(import)$/, /^(export)$/],
  [/^(income|revenue|profit|gain|gains)$/, /^(expense|expenses|cost|costs|loss|losses)$/],
  [/^(male|men|man|boys?)$/, /^(female|women|woman|girls?)$/],
  [/^(arrival|arrivals|arrive|arriving)$/, /^(departure|departures|depart|departing)$/],
  [/^(inbound|incoming)$/, /^(outbound|outgoing)$/],
  [/^(upgrade|upgrades|upgrading|upgraded)$/, /^(downgrade|downgrades|downgrading|downgraded)$/],
  [/^(merge|merges|merging|merged)$/, /^(split|splits|splitting)$/],
  [/^(compress|compresses|compressing|compressed|zip)$/, /^(decompress|decompresses|decompressing|decompressed|unzip)$/],
  [/^(ascending|asc)$/, /^(descending|desc)$/],
  [/^(public)$/, /^(private)$/],
  [/^(online)$/, /^(offline)$/],
  [/^(on)$/, /^(off)$/],
  [/^(good|great|healthy|safe)$/, /^(bad|terrible|unhealthy|harmful|dangerous|unsafe)$/],
  [/^(soft|softer)$/, /^(hard|harder)$/],
  [/^(light|lighter)$/, /^(dark|darker|heavy|heavier)$/],
  [/^(long|longer|longest)$/, /^(short|shorter|shortest)$/],
  [/^(old|older|oldest)$/, /^(new|newer|newest|young|younger|youngest)$/],
  [/^(wet)$/, /^(dry)$/],
  [/^(full)$/, /^(empty)$/],
  [/^(above|over)$/, /^(below|under)$/],
  [/^(inside|indoor|indoors)$/, /^(outside|outdoor|outdoors)$/],
  [/^(weekend|weekends)$/, /^(weekday|weekdays)$/],
  [/^(legal)$/, /^(illegal)$/],
  [/^(valid)$/, /^(invalid)$/],
  [/^(success|successful|succeed)$/, /^(failure|failed|fail|fails)$/],
  // Function words that are stop words for the content rule but still change the question.
  [/^(he|him|his|himself)$/, /^(she|her|hers|herself)$/],
  [/^(all|every|each|always|everyone|everybody|everything)$/, /^(some|several|sometimes|someone|somebody|something|most)$/],
  [/^from$/, /^(to|into|towards?)$/],
  [/^and$/, /^or$/],
  [/^by$/, /^about$/],
  [/^(in|into)$/, /^out$/],
  [/^up$/, /^down$/],
];

/** Words that carry no topic: function words, question scaffolding, politeness, generic verbs. */
const STOP_WORDS = new Set(
  (
    "a an the and or but if then so of to in on at by for with from into onto about as is are was were be been being am do does did doing done " +
    "have has had having can could would should will shall may might must i me my mine we us our you your yours he him his she her it its they them their " +
    "this that these those there here what what's whats which who whom whose where when why how how's hows is it's it's there's that's " +
    "please pls thanks thank kindly just really very quite also too some any all each every much many more most other another such own same " +
    "tell give show explain describe let get got want need like know help try using use via way ways best possible able okay ok hi hello hey " +
    "me i'm i've i'd i'll you're you've don't doesn't isn't aren't can't won't yes up out so than pm " +
    // Discourse adverbs (they link a sentence to the last one; what it asserts is the same) and titles.
    "however meanwhile moreover furthermore additionally respectively nevertheless mr mrs ms dr"
  ).split(' '),
);

/** Small synonym sets, mapped to one word (the stem of the first). */
const SYNONYMS = table<string>({});
for (const group of [
  ['change', 'update', 'modify', 'edit', 'alter'],
  ['find', 'locate', 'see', 'view', 'check'],
  ['contact', 'reach'],
  ['shipping', 'delivery', 'ship', 'deliver'],
  ['buy', 'purchase', 'order'],
  ['start', 'begin'],
  ['fix', 'repair', 'solve', 'resolve'],
  ['cost', 'price'],
  ['author', 'wrote', 'write', 'writer'],
  ['summary', 'summarize', 'summarise'],
  ['fast', 'quick', 'speed'],
  ['sign', 'symptom'],
  ['offer', 'provide', 'have'],
  ['allow', 'permit'],
  ['create', 'make', 'build', 'set'],
  ['mean', 'meaning', 'definition', 'define'],
  ['store', 'shop'],
]) {
  for (const w of group) SYNONYMS[w] = group[0] as string;
}

/** Light stemming so inflections do not count as substitutions. */
function stem(w: string): string {
  const s = SYNONYMS[w];
  if (s !== undefined) return s;
  let out = w;
  if (out.length > 5 && out.endsWith('ing')) out = out.slice(0, -3);
  else if (out.length > 4 && out.endsWith('ied')) out = `${out.slice(0, -3)}y`;
  else if (out.length > 4 && out.endsWith('ed')) out = out.slice(0, -2);
  else if (out.length > 4 && out.endsWith('ies')) out = `${out.slice(0, -3)}y`;
  else if (out.length > 3 && out.endsWith('es') && /(ss|sh|ch|x|z)es$/.test(out)) out = out.slice(0, -2);
  else if (out.length > 3 && out.endsWith('s') && !out.endsWith('ss')) out = out.slice(0, -1);
  if (out.length > 4 && out.endsWith('e')) out = out.slice(0, -1);
  return SYNONYMS[out] ?? out;
}

/** Words the number and negation rules already compared ("two" = "2", "don't" = "do not"). */
function comparedElsewhere(w: string): boolean {
  return NEGATIONS.has(w) || /n['’]t$/.test(w) || w.split('-').every((p) => p in SMALL || p in SCALES || p in ORDINALS);
}

function contentStems(words: string[]): Set<string> {
  const out = new Set<string>();
  for (const w of words) {
    const clean = w.replace(/[^a-z0-9'’-]/g, '');
    // A dash is punctuation, not a word ("--" / "-").
    if (!/[a-z0-9]/.test(clean) || STOP_WORDS.has(clean) || /^\d/.test(clean) || comparedElsewhere(clean)) continue;
    // A hyphen inside a word is spelling: "re-entry" = "reentry", "non-binding" = "nonbinding".
    out.add(stem(clean.replace(/['’]s$/, '').replace(/([a-z])-(?=[a-z])/g, '$1')));
  }
  return out;
}

export interface GuardFeatures {
  negations: number;
  numbers: string[];
  units: string[];
  times: string[];
  /** Definite entities (lower case). */
  entities: string[];
  /** Every token, lower case, possessive 's removed (what the other text's entities are looked up in). */
  tokens: Set<string>;
  words: string[];
  /** Modal classes used outside question scaffolding ("may", "will", …). */
  modals: string[];
  /** Whether the text has past / present tense markers. */
  past: boolean;
  present: boolean;
  /** Content stems written in an -ed form, and in another form. */
  edForms: Set<string>;
  otherForms: Set<string>;
  /** who / when / where / why. */
  wh: string[];
  /** Content stems written as a possessive ("the body's"): an owner, which an added word must not be. */
  possessives: Set<string>;
}

/** Word tokens in order with their sentence-start flag and original casing. */
interface Tok {
  raw: string;
  lower: string;
  sentenceStart: boolean;
}

const SENTENCE_END = /[.!?:;\n]$/;

function tokenize(text: string): Tok[] {
  const toks: Tok[] = [];
  let sentenceStart = true;
  for (const chunk of text.split(/\s+/)) {
    if (chunk === '') continue;
    // Surrounding punctuation off, keeping inner dots/slashes/underscores (code, paths, decimals)
    // and the currency/percent/degree signs units are made of.
    const lead = chunk.replace(/^[("'“‘[{<*]+/, '');
    // A call keeps its parentheses: `sendMoney()`.
    const core = /\w\([^()]*\)[,.!?:;"'”’]*$/.test(lead) ? lead.replace(/[,.!?:;"'”’]+$/, '') : lead.replace(/[)"'”’\]}>*,.!?:;]+$/, '');
    if (core !== '') {
      const lower = core.toLowerCase().replace(/['’]s$/, '');
      toks.push({ raw: core, lower, sentenceStart });
    }
    sentenceStart = SENTENCE_END.test(chunk);
  }
  return toks;
}

function isCodeIdentifier(raw: string): boolean {
  return (
    /[a-z][A-Z]/.test(raw) || // camelCase
    /^[A-Za-z_][\w]*_[\w]+$/.test(raw) || // snake_case
    /^[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)+(\(\))?$/.test(raw) && !/^([a-z]\.)+[a-z]?$/i.test(raw) || // dotted.names (not e.g.)
    /\w\(.*\)$/.test(raw) || // call()
    /^(\.{0,2}\/|~\/)[\w./-]+$/.test(raw) || // paths
    /^--?[a-z][\w-]*$/.test(raw) || // --flags
    /^[\w-]+\.(js|ts|py|json|ya?ml|toml|md|txt|csv|sql|sh|go|rs|java|rb|php|html|css|env|lock|xml|ini|conf|cfg|log)$/i.test(raw) || // file names
    /^[@#][\w-]+$/.test(raw) || // mentions, hashtags
    /^https?:\/\//.test(raw) ||
    /^[\w.+-]+@[\w-]+\.[\w.]+$/.test(raw) // e-mail
  );
}

/** Capitalised but not names: the pronoun I, ok, and titles before a name ("Mr. Day" = "Day"). */
const PRONOUN_CAPS = new Set(['i', "i'm", "i've", "i'd", "i'll", 'ok', 'okay', 'mr.', 'mrs.', 'ms.', 'dr.', 'mr', 'mrs', 'ms', 'dr']);

/** Parses a run of number words starting at i; returns the value and how many tokens it took. */
function numberWords(toks: Tok[], i: number): { value: number; used: number } | undefined {
  let total = 0;
  let current = 0;
  let used = 0;
  let any = false;
  for (let j = i; j < toks.length; j++) {
    const parts = (toks[j] as Tok).lower.split('-');
    let ok = true;
    for (const w of parts) {
      if (w in SMALL) current += SMALL[w] as number;
      else if (w === 'hundred') current = (current || 1) * 100;
      else if (w in SCALES) {
        total += (current || 1) * (SCALES[w] as number);
        current = 0;
      } else {
        ok = false;
        break;
      }
    }
    if (!ok) {
      // "and" inside a number: "one hundred and five".
      if ((toks[j] as Tok).lower === 'and' && any && j + 1 < toks.length && (toks[j + 1] as Tok).lower.split('-').every((w) => w in SMALL)) {
        used++;
        continue;
      }
      break;
    }
    any = true;
    used++;
  }
  return any ? { value: total + current, used } : undefined;
}

function numericValue(raw: string): string | undefined {
  // 1,000 → 1000; 3.50 → 3.5; 12k → 12000; 5% and $5 keep the number (the sign is a unit).
  const m = /^[$€£¥]?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(k|m|bn|b|st|nd|rd|th|x|%|s)?$/i.exec(raw);
  if (!m) return undefined;
  let n = Number(`${(m[1] as string).replace(/,/g, '')}${m[2] ? `.${m[2]}` : ''}`);
  const suffix = m[3]?.toLowerCase();
  if (suffix === 'k') n *= 1e3;
  else if (suffix === 'm') n *= 1e6;
  else if (suffix === 'b' || suffix === 'bn') n *= 1e9;
  return String(n);
}

function tenseAndModality(f: GuardFeatures, toks: Tok[], i: number): void {
  const t = toks[i] as Tok;
  const w = t.lower.replace(/’/g, "'");
  const prev = i > 0 ? (toks[i - 1] as Tok).lower.replace(/’/g, "'") : '';
  const next = i + 1 < toks.length ? (toks[i + 1] as Tok).lower : '';
  const modal = MODALS[w] ?? (/'ll$/.test(w) ? 'will' : undefined);
  // "May" capitalised inside a sentence is the month (a time reference).
  const month = w === 'may' && t.raw === 'May' && !t.sentenceStart;
  if (modal !== undefined && !month) {
    if (!SCAFFOLD_SUBJECTS.has(next)) f.modals.push(modal);
    return;
  }
  const afterModal = MODALS[prev] !== undefined || /'ll$/.test(prev);
  // A participle (after be/have/get, maybe past a "not" or an -ly adverb: "was not harmed", "is
  // being investigated", "has already closed") is voice or aspect, not tense.
  const before = i > 1 ? (toks[i - 2] as Tok).lower.replace(/’/g, "'") : '';
  const participle = NO_TENSE_BEFORE.has(prev) || ((prev === 'not' || prev.endsWith('ly') || prev === 'already') && NO_TENSE_BEFORE.has(before));
  if (!afterModal && prev !== 'to') {
    if (PAST_AUX.has(w)) f.past = true;
    else if (PRESENT_AUX.has(w)) f.present = true;
  }
  if (IRREGULAR_PAST.has(w) && !participle) f.past = true;
  const clean = w.replace(/[^a-z0-9'-]/g, '');
  if (clean !== '' && !STOP_WORDS.has(clean) && !comparedElsewhere(clean) && !/^\d/.test(clean)) {
    // A bare -ed form is a past tense; a participle is filed with the other forms ("is carried" = "carry").
    const ed = clean.length >= 5 && /[^e]ed$/.test(clean) && !participle;
    (ed ? f.edForms : f.otherForms).add(stem(clean));
    if (ed) f.past = true;
  }
  const wh = WH[w] ?? (w === 'what' && next === 'time' ? 'when' : undefined);
  if (wh !== undefined) f.wh.push(wh);
}

/** A content word written in an -ed form in one text and only in another form in the other ("closed" / "closes"). */
function formClash(a: GuardFeatures, b: GuardFeatures): string | undefined {
  for (const s of a.edForms) if (!a.otherForms.has(s) && b.otherForms.has(s) && !b.edForms.has(s)) return s;
  for (const s of b.edForms) if (!b.otherForms.has(s) && a.otherForms.has(s) && !a.edForms.has(s)) return s;
  return undefined;
}

export function guardFeatures(text: string): GuardFeatures {
  const toks = tokenize(text);
  const features: GuardFeatures = { negations: 0, numbers: [], units: [], times: [], entities: [], tokens: new Set(), words: [], modals: [], past: false, present: false, edForms: new Set(), otherForms: new Set(), wh: [], possessives: new Set() };
  const addEntity = (e: string): void => {
    const v = e.toLowerCase().trim();
    if (v !== '') features.entities.push(v);
  };
  // Quoted strings and backticks are entities whatever they contain.
  for (const m of text.matchAll(/`([^`]+)`|"([^"]+)"|“([^”]+)”|(?:^|[\s(])'([^']+)'(?=$|[\s.,;:?!)])/g)) addEntity((m[1] ?? m[2] ?? m[3] ?? m[4] ?? '').replace(/[.,!?]+$/, ''));
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i] as Tok;
    const lower = t.lower;
    features.tokens.add(lower);
    features.words.push(lower);
    if (/['’]s$/i.test(t.raw) && !STOP_WORDS.has(lower)) features.possessives.add(stem(lower.replace(/[^a-z0-9'’-]/g, '')));
    for (const part of lower.split(/[-/]/)) features.tokens.add(part);
    // Negation.
    if (NEGATIONS.has(lower) || /n['’]t$/.test(lower)) features.negations++;
    // Modality, tense, question word.
    tenseAndModality(features, toks, i);
    // Numbers.
    const num = numericValue(t.raw.replace(/[°]$/, ''));
    const scale = num !== undefined && i + 1 < toks.length ? SCALES[(toks[i + 1] as Tok).lower] : undefined;
    if (num !== undefined && scale !== undefined) {
      // "1.4 billion" = "1,400,000,000" (one number, not 1.4 and a billion).
      features.numbers.push(String(Number(num) * scale));
      const next = toks[i + 1] as Tok;
      features.tokens.add(next.lower);
      features.words.push(next.lower);
      if (/^[$€£¥]/.test(t.raw)) features.units.push(UNITS[t.raw[0] as string] as string);
      i++;
      continue;
    } else if (num !== undefined) features.numbers.push(num);
    else if (/\d/.test(t.raw) && !isCodeIdentifier(t.raw)) {
      // Mixed tokens (5km, 10am, 2x, v2, 3-4): every number in them counts.
      for (const d of t.raw.match(/\d+(?:\.\d+)?/g) ?? []) features.numbers.push(String(Number(d)));
      const unitPart = lower.replace(/[\d.,]+/g, '');
      if (unitPart in UNITS) features.units.push(UNITS[unitPart] as string);
    } else if (lower in ORDINALS) features.numbers.push(String(ORDINALS[lower]));
    else {
      const nw = lower === 'one' && i > 0 && ONE_PRONOUN_BEFORE.has((toks[i - 1] as Tok).lower) ? undefined : numberWords(toks, i);
      // "a hundred": the article stands for one.
      if (nw) {
        features.numbers.push(String(nw.value));
        for (let j = i + 1; j < i + nw.used; j++) {
          const tj = toks[j] as Tok;
          features.tokens.add(tj.lower);
          features.words.push(tj.lower);
        }
        i += nw.used - 1;
        continue;
      }
    }
    // Units and currencies (signs glued to numbers count too: $5, 5%, 20°C).
    if (lower in UNITS) features.units.push(UNITS[lower] as string);
    else if (/^[$€£¥]/.test(t.raw)) features.units.push(UNITS[t.raw[0] as string] as string);
    if (/\d%$/.test(t.raw)) features.units.push('percent');
    if (/\d°?[cf]$/i.test(t.raw) && /°|^\d+[cf]$/i.test(t.raw)) features.units.push(/c$/i.test(t.raw) ? 'celsius' : 'fahrenheit');
    // Time references.
    if (TIME_WORDS.has(lower)) features.times.push(lower);
    else if (lower.endsWith('s') && TIME_WORDS.has(lower.slice(0, -1))) features.times.push(lower.slice(0, -1));
    else if (lower === 'may' && /^May$/.test(t.raw) && !t.sentenceStart) features.times.push('may');
    if (TIME_RELATIVE.has(lower) && i + 1 < toks.length && TIME_SPANS.has((toks[i + 1] as Tok).lower)) features.times.push(`${lower} ${(toks[i + 1] as Tok).lower.replace(/s$/, '')}`);
    // Entities.
    const letters = t.raw.replace(/[^A-Za-z]/g, '');
    const acronym = letters.length >= 2 && /^[A-Z0-9]+$/.test(t.raw.replace(/['’]s$/, '').replace(/[^A-Za-z0-9]/g, '')) && /[A-Z]{2}/.test(t.raw);
    const capitalised = /^[A-Z]/.test(t.raw) && !t.sentenceStart && !PRONOUN_CAPS.has(lower);
    if (isCodeIdentifier(t.raw)) addEntity(t.raw.replace(/\(\)$/, ''));
    else if ((acronym || capitalised) && !PRONOUN_CAPS.has(lower)) addEntity(lower);
    else if (KNOWN_NAMES.has(lower)) addEntity(lower);
  }
  return features;
}

function sameMultiset(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const x = [...a].sort();
  const y = [...b].sort();
  return x.every((v, i) => v === y[i]);
}

function sameSet(a: string[], b: string[]): boolean {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
}

/** Units in order of first appearance. */
function unitSequence(units: string[]): string[] {
  return [...new Set(units)];
}

function mentions(f: GuardFeatures, entity: string): boolean {
  if (f.tokens.has(entity) || f.entities.includes(entity)) return true;
  // Multi-word quoted entities: every word present.
  const words = entity.split(/\s+/);
  return words.length > 1 && words.every((w) => f.tokens.has(w.replace(/['’]s$/, '')));
}

function polarityClash(a: GuardFeatures, b: GuardFeatures): string | undefined {
  for (const [x, y] of OPPOSITES) {
    const ax = a.words.some((w) => x.test(w));
    const ay = a.words.some((w) => y.test(w));
    const bx = b.words.some((w) => x.test(w));
    const by = b.words.some((w) => y.test(w));
    if ((ax && !ay && by && !bx) || (ay && !ax && bx && !by)) return `${x.source} vs ${y.source}`;
  }
  return undefined;
}

// Attribution: who said it, set aside when comparing. A news sentence and its paraphrase often
// differ only in where the source is named, or whether it is ("Police said the man was armed" /
// "The man was armed, police said" / "The man was armed"). Recognised: a leading "<source> said
// (that)" (the source at most ten words, one appositive after a name: "Cindy Cohn, legal director
// of X, said"), a trailing ", <source> said <when>." or ", said <source>, <appositive>.", and
// "according to <source>" at either end; a quote's closing mark may sit after the comma ('"We
// will," he said.'). said / says / told <someone> / added; a day or "in a
// statement" after the verb belongs to the clause; a clause with a negation or a modal ("did not
// say", "may say") is not set aside. The rest of the text is compared as usual; when
// both texts name a source, the named sources must agree.
const ATTR_VERB = String.raw`(?:(?:said|says|say|added|adds)\b|told\s+(?!the\b|a\b|an\b)[\w'’-]+|tells\s+(?!the\b|a\b|an\b)[\w'’-]+)`;
/** A clause part with no coordination or finite verb in it (so a statement is never taken for a source). */
const NO_CLAUSE = String.raw`(?![^,]*\b(?:and|but|or|is|are|was|were|has|have|had|been|will|would|could|can|may|might|said|says|not|no)\b)`;
const ATTR_WHEN = String.raw`(?:\s+(?:on\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|yesterday|today|late|early|earlier|later|last|this|night|morning|afternoon|evening|week|month|in\s+a\s+statement|in\s+an?\s+\w+|during\s+an?\s+\w+(?:\s+\w+)?|at\s+an?\s+\w+(?:\s+\w+)?))*`;
const ATTR_SOURCE = String.raw`(?:[A-Za-z.'’-]+\s+){0,8}?[A-Za-z.'’-]+`;
const ATTR_LEAD = new RegExp(String.raw`^(?:According\s+to\s+${NO_CLAUSE}[^,]{1,80},\s+|${ATTR_SOURCE}(?:(?<=[A-Z][A-Za-z.'’-]*)\s*,${NO_CLAUSE}[^,]{1,80},)?\s+${ATTR_VERB}${ATTR_WHEN}\s*,?\s*(?:that\s+)?)`);
const ATTR_TRAIL = new RegExp(
  String.raw`,["”’']?\s+(?:according\s+to\s+${NO_CLAUSE}[^,]{1,80}|(?:${ATTR_SOURCE}\s+)?${ATTR_VERB}${ATTR_WHEN}|(?:said|says|added)${ATTR_WHEN}\s+${NO_CLAUSE}(?=(?:the|a|an)\s|[A-Z])[^,]{1,60}(?:,\s+${NO_CLAUSE}[^,]{1,80})?)\s*([.!?"'”]*)$`,
);

/** Longer texts are compared whole. */
const ATTRIBUTION_MAX_CHARS = 400;

const ATTR_WORDS = new Set(['according', 'said', 'says', 'say', 'told', 'tells', 'added', 'adds', 'statement', 'interview', 'later', 'earlier', 'late', 'early', 'yesterday', 'today', 'night', 'morning', 'afternoon', 'evening', 'week', 'month', 'last', 'during', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday']);

/** The words of attribution clauses that name the source (not the verb, the time or stop words). */
function sourceWords(clauses: string[]): string[] {
  // Whom it was told to is not the source ("told reporters").
  return guardFeatures(clauses.join(' ').replace(/\b(told|tells)\s+\S+/gi, '')).words.map((w) => w.replace(/[^a-z0-9'’-]/g, '')).filter((w) => w.length > 1 && !STOP_WORDS.has(w) && !ATTR_WORDS.has(w));
}

/** A clause that denies, hedges or predicts the saying is not an attribution to set aside ("Officials did not say", "Police may say"). */
const ATTR_NOT_PLAIN = /\b(?:not|no|never|nobody|none|neither|nor|cannot|can|could|may|might|will|would|shall|should|must|ought|refused|declined|denied|do|does|did|what|who|whom|whose|which|when|where|why|how|whether|if)\b|n['’]t\b/i;

/** The text without its attribution clauses, and the clauses taken out. A question is left whole: what someone said is what it asks ("What did the CEO say about layoffs?"). */
export function stripAttribution(text: string): { text: string; clauses: string[] } {
  const clauses: string[] = [];
  let rest = text.trim();
  if (rest.includes('?')) return { text: rest, clauses };
  const lead = ATTR_LEAD.exec(rest);
  // Never the bulk of the text: what is left must be a statement of its own.
  if (lead && lead[0].length < rest.length * 0.6 && !ATTR_NOT_PLAIN.test(lead[0])) {
    clauses.push(lead[0]);
    rest = rest.slice(lead[0].length);
    rest = rest.charAt(0).toUpperCase() + rest.slice(1);
  }
  const trail = ATTR_TRAIL.exec(rest);
  if (trail && trail[0].length < rest.length * 0.6 && !ATTR_NOT_PLAIN.test(trail[0])) {
    clauses.push(trail[0]);
    // A quote keeps its closing mark: '"We will," he said.' → '"We will."'.
    const quote = /^,(["”’'])/.exec(trail[0])?.[1] ?? '';
    rest = rest.slice(0, trail.index) + (quote === '' ? trail[1] || '.' : `.${quote}`);
  }
  return { text: rest, clauses };
}

/** First appearance order of the values both lists share. */
function sharedOrder(list: string[], other: Set<string>): string[] {
  return [...new Set(list)].filter((v) => other.has(v));
}

/**
 * Whether `candidate` (a cached question) may answer `query`. `similarity` (cosine of their
 * embeddings) lets changed content words through when `strictness` allows it (by default it
 * never does); without it, any change is
 * rejected. With `strictness.attribution`, a pair refused whole is compared again without its
 * attribution clauses.
 */
export function nearMissGuard(query: string, candidate: string, similarity = 0, strictness: GuardStrictness = DEFAULT_GUARD): GuardResult {
  if (query.trim().toLowerCase() === candidate.trim().toLowerCase()) return { ok: true, kind: 'same' };
  const whole = compare(query, candidate, similarity, strictness);
  // Attribution is looked for in sentences, not documents (the patterns' cost grows with length).
  if (whole.ok || !strictness.attribution || query.length > ATTRIBUTION_MAX_CHARS || candidate.length > ATTRIBUTION_MAX_CHARS) return whole;
  const a = stripAttribution(query);
  const b = stripAttribution(candidate);
  if (a.clauses.length === 0 && b.clauses.length === 0) return whole;
  if (a.clauses.length > 0 && b.clauses.length > 0) {
    // Both attribute the statement: the sources must be the same ("Smith said" ≠ "Jones said",
    // "police said" ≠ "prosecutors said"): every word naming one source is in the other text.
    const qa = guardFeatures(query).tokens;
    const qb = guardFeatures(candidate).tokens;
    if (sourceWords(a.clauses).some((w) => !qb.has(w)) || sourceWords(b.clauses).some((w) => !qa.has(w))) return whole;
  }
  const rest = compare(a.text, b.text, similarity, strictness);
  return rest.ok ? { ok: true, kind: 'close' } : whole;
}

function compare(query: string, candidate: string, similarity: number, strictness: GuardStrictness): GuardResult {
  const a = guardFeatures(query);
  const b = guardFeatures(candidate);
  if (a.negations !== b.negations) return { ok: false, reason: 'negation', detail: `${a.negations} vs ${b.negations}` };
  if (!sameMultiset(a.numbers, b.numbers)) return { ok: false, reason: 'number', detail: `${a.numbers.join(',')} vs ${b.numbers.join(',')}` };
  const ua = unitSequence(a.units);
  const ub = unitSequence(b.units);
  if (ua.join(' ') !== ub.join(' ')) return { ok: false, reason: 'unit', detail: `${ua.join(',')} vs ${ub.join(',')}` };
  if (!sameSet(a.times, b.times)) return { ok: false, reason: 'time', detail: `${a.times.join(',')} vs ${b.times.join(',')}` };
  const missingInB = a.entities.find((e) => !mentions(b, e));
  if (missingInB !== undefined) return { ok: false, reason: 'entity', detail: missingInB };
  const missingInA = b.entities.find((e) => !mentions(a, e));
  if (missingInA !== undefined) return { ok: false, reason: 'entity', detail: missingInA };
  const ea = sharedOrder(a.entities, new Set(b.entities));
  const eb = sharedOrder(b.entities, new Set(a.entities));
  if (ea.length >= 2 && ea.join('\u0000') !== eb.join('\u0000')) return { ok: false, reason: 'order', detail: `${ea.join(',')} vs ${eb.join(',')}` };
  const clash = polarityClash(a, b);
  if (clash !== undefined) return { ok: false, reason: 'polarity', detail: clash };
  if (!sameSet(a.modals, b.modals)) return { ok: false, reason: 'modality', detail: `${a.modals.join(',')} vs ${b.modals.join(',')}` };
  if ((a.past && !a.present && b.present && !b.past) || (b.past && !b.present && a.present && !a.past)) return { ok: false, reason: 'tense', detail: a.past ? 'past vs present' : 'present vs past' };
  const form = formClash(a, b);
  if (form !== undefined) return { ok: false, reason: 'tense', detail: `${form}-ed in one text only` };
  if (!sameSet(a.wh, b.wh)) return { ok: false, reason: 'question', detail: `${a.wh.join(',')} vs ${b.wh.join(',')}` };
  const ca = contentStems(a.words);
  const cb = contentStems(b.words);
  const onlyA = [...ca].filter((w) => !cb.has(w));
  const onlyB = [...cb].filter((w) => !ca.has(w));
  const changed = onlyA.length + onlyB.length;
  if (changed === 0) return { ok: true, kind: 'rephrase' };
  const reason: GuardReason = onlyA.length > 0 && onlyB.length > 0 ? 'substitution' : 'addition';
  const detail = `${onlyA.join(',')} vs ${onlyB.join(',')}`;
  const need = strictness.minSimilarity[changed - 1];
  if (need === undefined || similarity < need) return { ok: false, reason, detail };
  if (reason === 'addition' && strictness.additions === false) return { ok: false, reason, detail };
  // A changed owner changes what is spoken of ("the body's own estrogen" / "estrogen").
  const owner = onlyA.find((w) => a.possessives.has(w)) ?? onlyB.find((w) => b.possessives.has(w));
  if (owner !== undefined) return { ok: false, reason, detail: `${detail} (possessive ${owner})` };
  if (strictness.maxChangedShare !== undefined && changed / new Set([...ca, ...cb]).size > strictness.maxChangedShare) return { ok: false, reason, detail: `${detail} (${changed} of ${new Set([...ca, ...cb]).size} content words)` };
  return { ok: true, kind: 'close' };
}
