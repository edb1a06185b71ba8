/**
 * Fixed benchmark texts. They never change between runs, so figures from different runs and
 * machines measure the same work. Word counts are checked when the benchmark starts.
 */

/** Exactly 500 words (2,652 characters) of ordinary English prose, well under the 4096-character API limit. */
export const LONG_TEXT = [
  'The old lighthouse on the northern cape has not guided a ship for almost forty years, but the town still climbs up to it every autumn.',
  'Families pack bread, cheese and warm coffee, and they walk the narrow path along the cliffs while the wind pulls at their coats.',
  'Nobody quite remembers when the custom began.',
  'Some say a keeper once lit the lamp for a fishing boat that had lost its way in a storm, and that the whole crew came home safely because of it.',
  'Others insist it started as an excuse for a picnic, and that the story of the boat was added later to make it sound more important.',
  'Either way, the walk has become part of the calendar, like the first frost or the day the ferry stops running for the winter.',
  'When the visitors reach the top, they find the heavy door unlocked and the spiral staircase swept clean.',
  'A retired teacher named Margaret looks after the building now.',
  'She does not own it, and she is not paid, but she has a key, a broom and a great deal of patience.',
  'Every spring she repaints the railings, oils the hinges and replaces the broken panes of glass with pieces she buys from the hardware store in the valley.',
  'Children ask her whether the light still works, and she always gives the same answer: it would, if anyone needed it.',
  'From the gallery at the top, the view stretches across the whole bay.',
  'On a clear day you can see the islands to the west, the dark line of the forest to the east, and the roofs of the town far below, small and bright like toys on a table.',
  'In the afternoon the older people tell stories.',
  'They talk about the winter when the harbour froze solid, about the summer the whales came so close that you could hear them breathing, and about the night the power failed across the entire coast.',
  'As the light begins to fade, Margaret climbs the last few steps to the lamp room.',
  'She opens the small window facing the sea, and for a moment everyone stops talking and listens to the waves.',
  'Then she closes it again, locks the little brass latch, and announces that it is time to go home before the path gets too dark to follow.',
  'By the time they reach the first houses, the street lamps are glowing and the smell of wood smoke drifts between the gardens.',
  'Perhaps that is the real reason the tradition survives.',
  'In a world that keeps asking people to hurry, to improve and to change, there is comfort in one afternoon that asks for nothing except that you show up, climb the stairs, and look out at the water for a while with the people you know.',
  'The lighthouse has outlived its purpose, yet it has quietly found another one.',
  'It no longer keeps ships away from the rocks, but it still brings the town safely together.',
].join(' ');

/**
 * Eight different paragraphs of about 100 words each, for the concurrent throughput load. They are
 * different texts so no layer can get away with repeating work.
 */
export const SHORT_TEXTS: readonly string[] = [
  'Bread is one of the oldest prepared foods in the world. At its simplest it needs only flour, water and salt, yet bakers have spent thousands of years arguing about the details. A slow rise gives a deeper flavour, while a hot oven gives the crust its colour and crackle. Some people keep a sourdough starter alive for decades, feeding it every morning like a pet. Others buy a fresh loaf from the corner shop and never think about it at all. Both, in their own way, are taking part in a very long and very human story.',
  'The railway reached the valley in the spring of eighteen ninety, and within a year the town had doubled in size. Farmers could send their milk to the city before it spoiled, and merchants brought in cloth, tools and newspapers that were only a day old. The station was built from red brick with a clock above the entrance, and people set their watches by it. Today the trains are faster and the clock runs on electricity, but the building still stands, and travellers still glance up at it when they hurry to catch the last train home.',
  'Learning a musical instrument as an adult is humbling. Your fingers refuse to do what your mind asks, and simple tunes that children play without effort seem to take weeks. The trick, most teachers say, is to practise a little every day rather than a lot once a week. Ten minutes before breakfast is enough to keep the progress steady. Slowly the awkward movements become habits, the habits become skill, and one evening you realise that you have played a whole piece without thinking about your hands at all. That moment makes the frustration worthwhile.',
  'Honeybees communicate the location of flowers through a remarkable dance. When a forager returns to the hive, she moves in a figure of eight, waggling her body along the middle line. The angle of that line tells the other bees the direction of the food relative to the sun, and the length of the waggle tells them how far away it is. Scientists spent years decoding this behaviour, and it remains one of the most famous examples of animal language. The bees, of course, have been quietly doing it for millions of years without any help.',
  'A good map is a kind of argument. It decides what matters and leaves out everything else, because a map that showed every stone and every blade of grass would be as large as the land itself, and just as useless. Road maps ignore the soil, geological maps ignore the roads, and subway maps ignore distance almost entirely in favour of clear straight lines. None of them is wrong. Each one answers a different question, and the skill of reading a map lies partly in knowing which question it was drawn to answer.',
  'Winter storms on the mountain arrive quickly. In the morning the sky may be a perfect pale blue, and by lunchtime the summit can vanish behind grey cloud and driving snow. Experienced climbers watch the wind as much as the sky, because a sudden change in its direction is often the first warning. They carry extra layers, a map and a compass, even on short walks. The mountain does not care how fit you are or how many times you have climbed it before. It rewards preparation and patience, and it punishes pride without mercy.',
  'Public libraries are among the few places left where nobody expects you to buy anything. You can sit for hours, read the newspaper, borrow a stack of novels, use a computer or simply stay warm on a cold afternoon. Librarians help people fill in forms, find old family records and learn to use new technology. In many towns the library also hosts reading groups, language classes and story time for small children. It is easy to take such a place for granted, but it represents a simple and generous idea: knowledge should be shared freely.',
  'Coffee travelled a long way before it reached the modern breakfast table. The plant first grew wild in the highlands of Ethiopia, and traders later carried the beans across the Red Sea to Yemen, where people began roasting and brewing them. From there coffee houses spread to Cairo, Istanbul, Venice and London, becoming noisy centres of gossip, business and politics. Today the drink is grown on several continents and prepared in countless ways, from tiny bitter espresso cups to enormous sweet iced glasses, yet its basic appeal has hardly changed at all.',
];

export function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => /[\p{L}\p{N}]/u.test(word)).length;
}

/**
 * Short one-sentence texts (10–16 words) for the job API latency figures. The benchmark adds a
 * number to each use, so no two requests repeat a text and the result cache cannot answer them.
 */
export const SENTENCES: readonly string[] = [
  'The morning train was late again, so everyone on the platform shared an umbrella.',
  'A small brown dog waited patiently outside the bakery for its owner to return.',
  'Please remember to water the tomatoes before you leave for the weekend.',
  'The museum opens at nine and the new exhibition is on the second floor.',
  'Heavy rain is expected tonight, with strong winds along the northern coast.',
  'She folded the letter carefully and put it in the drawer beside the window.',
  'Our meeting has moved to Thursday afternoon because the projector is being repaired.',
  'The river was so calm that the hills were reflected perfectly in the water.',
  'He bought two tickets for the concert and forgot them on the kitchen table.',
  'Fresh snow covered the garden overnight, and the children ran outside to play.',
  'The library will extend its opening hours during the exam period next month.',
  'A gentle breeze carried the smell of the sea through the open door.',
];

/**
 * `count` different texts of about 30 words for the job API throughput load: 30-word windows over
 * the other benchmark texts, `round` shifting them, so every (round, index) pair gives another text
 * (for rounds below a third of words / count, about 8 for 50 texts).
 */
export function thirtyWordTexts(count: number, round: number): string[] {
  return wordWindowTexts(count, round, 30);
}

/** `count` windows of `size` words over the benchmark texts, `step` words apart and shifted by 3 words per round. */
export function wordWindowTexts(count: number, round: number, size: number): string[] {
  const words = [...SHORT_TEXTS, LONG_TEXT].join(' ').split(/\s+/).filter((word) => word.length > 0);
  // Starts `step` words apart; rounds shift them by 3 words, so windows stay distinct while 3 * round < step.
  const step = Math.floor(words.length / count);
  if (3 * round >= step) throw new Error(`wordWindowTexts: round ${round} would repeat texts of round 0`);
  const texts: string[] = [];
  for (let i = 0; i < count; i++) {
    const start = i * step + round * 3;
    const window: string[] = [];
    for (let k = 0; k < size; k++) window.push(words[(start + k) % words.length]!);
    texts.push(window.join(' '));
  }
  return texts;
}
