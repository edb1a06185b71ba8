/**
 * Chorus's layering, checked by `npm run lint:deps` (run by `npm test`). Each layer lists folders
 * of src/ (and src/errors.ts); a folder may import folders of lower layers only, not its peers in
 * its own layer nor anything above. Folders not listed are free of layer rules until they are
 * placed here, but never in a folder cycle. Test files (*.test.ts, *.case.ts) may use anything:
 * an audio test speaks with a real engine. See docs/architecture.md, "Layers".
 */
const LAYERS = [
  ['engine', 'errors.ts'],
  ['util', 'text', 'subtitles'],
  ['config', 'validation', 'llm'],
  ['audio', 'storage', 'models'],
  ['engine-host'],
  ['engines', 'security', 'conversations'],
  ['pipeline'],
  ['alignment'],
  ['workers'],
  ['speech'],
  ['agent', 'voices', 'cache', 'jobs'],
  ['operations'],
  ['api', 'metrics'],
  ['server'],
  ['cli'],
];

const TEST_FILE = '\\.(test|case)\\.ts$|^test/';
const escape = (name) => name.replace(/[.]/g, '\\.');
const pathOf = (name) => (name.endsWith('.ts') ? `^src/${escape(name)}$` : `^src/${name}/`);

const layerRules = LAYERS.flatMap((layer, index) =>
  layer.flatMap((name) => {
    const notBelow = LAYERS.slice(index).flat().filter((other) => other !== name);
    if (notBelow.length === 0) return [];
    return {
      name: `layer:${name}`,
      comment: `src/${name} may import only layers below its own: not ${notBelow.join(', ')}.`,
      severity: 'error',
      from: { path: pathOf(name), pathNot: TEST_FILE },
      to: { path: notBelow.map(pathOf) },
    };
  }),
);

module.exports = {
  forbidden: [
    {
      name: 'no-folder-cycles',
      comment: 'Folders depend on each other one way only.',
      severity: 'error',
      scope: 'folder',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-module-cycles',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-is-dependency-free',
      comment: 'src/engine/ is the contract every engine implements; it imports nothing else from src.',
      severity: 'error',
      from: { path: '^src/engine/' },
      to: { path: '^src/', pathNot: '^src/engine/' },
    },
    {
      name: 'no-test-imports',
      comment: 'Source never imports test files or test support.',
      severity: 'error',
      from: { pathNot: TEST_FILE },
      to: { path: TEST_FILE },
    },
    ...layerRules,
  ],
  options: {
    // The project's TypeScript (7, native) has no JS API for dependency-cruiser; swc parses the
    // sources, type-only imports included.
    parser: 'swc',
    tsPreCompilationDeps: true,
    // Test files are cruised as modules (so importing one is caught) but their own imports are
    // not followed: they are not part of the layering.
    doNotFollow: { path: ['node_modules', TEST_FILE] },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
