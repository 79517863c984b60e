using RsMoe.Captions;
using RsMoe.Model.Checkpoints;
using RsMoe.Model.Generation;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using RsMoe.Model.QFormer;
using RsMoe.Model.Router;
using RsMoe.Model.Tokenizers;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Moe;

/// <summary>A caption: merged text, each section with its expert, and the gate.</summary>
public sealed record CaptionResult(string Caption, IReadOnlyList<CaptionSection> Sections, IReadOnlyList<double> Gate);

/// <summary>An answer and the expert that wrote it.</summary>
public sealed record AnswerResult(string Answer, string Expert, IReadOnlyList<double> Gate);

/// <summary>
/// RS-MoE after the image encoder: the VLM encoder with the router, the Stage I language model, and one expert per
/// role (the Stage I model plus that role's LoRA adapter). Saved as a folder: <c>rsmoe_config.json</c>,
/// <c>vlm_encoder.safetensors</c>, <c>llm/</c> (Hugging Face layout), <c>experts/{role}/</c> (PEFT adapters) and the
/// two vocabularies, so one expert's adapter can be retrained and swapped alone.
/// </summary>
public sealed class RsMoeModel : IDisposable
{
    public RsMoeConfig Config { get; }
    public VlmEncoder Encoder { get; }
    public LlamaForCausalLM Base { get; }
    public BertWordPieceTokenizer InstructionTokenizer { get; }
    public ITextTokenizer LlmTokenizer { get; }
    readonly Dictionary<string, LlamaForCausalLM> _experts = new(StringComparer.Ordinal);
    public IReadOnlyDictionary<string, LlamaForCausalLM> Experts => _experts;
    public Device Device { get; }
    LoraBank? _bank;

    /// <summary>
    /// In the shared-base layout (<see cref="Load"/> with <c>sharedBase</c>) the experts are not copies: they are this
    /// bank's adapters over <see cref="Base"/>, and a caption decodes all sections together in one batched pass.
    /// </summary>
    public LoraBank? Bank => _bank;

    /// <summary>Bytes of language-model weights held: the base, every expert copy, and the bank.</summary>
    public long LanguageModelBytes =>
        new[] { Base }.Concat(_experts.Values).Sum(lm => lm.parameters().Sum(p => p.numel() * p.element_size())) + (_bank?.Bytes ?? 0);

    RsMoeModel(RsMoeConfig config, VlmEncoder encoder, LlamaForCausalLM llm, BertWordPieceTokenizer instructions, ITextTokenizer llmTokenizer, Device device)
    {
        Config = config;
        Encoder = encoder;
        Base = llm;
        InstructionTokenizer = instructions;
        LlmTokenizer = llmTokenizer;
        Device = device;
    }

    /// <summary>A fresh model with random weights, soft prompts initialised from the router's text prompts.</summary>
    public static RsMoeModel Create(RsMoeConfig config, IReadOnlyList<string> instructionVocabulary, ITextTokenizer llmTokenizer, long seed, Device? device = null)
    {
        device ??= CPU;
        if (instructionVocabulary.Count != config.QFormer.VocabSize)
            throw new ArgumentException($"the instruction vocabulary has {instructionVocabulary.Count} tokens but the Q-Former expects {config.QFormer.VocabSize}");
        if (llmTokenizer.VocabSize != config.Llm.VocabSize)
            throw new ArgumentException($"the LLM tokenizer has {llmTokenizer.VocabSize} tokens but the LLM expects {config.Llm.VocabSize}");
        manual_seed(seed);
        var encoder = new VlmEncoder(config.QFormer, config.NumQueryTokens, config.Llm.HiddenSize, config.Router);
        var llm = LlamaForCausalLM.Create(config.Llm, ScalarType.Float32, seed: seed + 1);
        llm.InitializeWeights(0.02, seed + 2);
        InitializeQFormer(encoder, seed + 3);
        var model = new RsMoeModel(config, encoder, llm, BertWordPieceTokenizer.FromVocabulary(instructionVocabulary), llmTokenizer, device);
        model.InitialiseRouterPrompts();
        model.MoveTo(device);
        return model;
    }

    /// <summary>BERT's initialisation for the Q-Former trained from scratch: N(0, 0.02) weights, zero biases, unit LayerNorms.</summary>
    static void InitializeQFormer(VlmEncoder encoder, long seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (name, p) in encoder.named_parameters())
        {
            if (name.StartsWith("router.", StringComparison.Ordinal)) continue;
            if (name.Contains("LayerNorm.") || name.Contains("layernorm.")) { if (name.EndsWith("weight")) p.fill_(1.0); else p.zero_(); }
            else if (name.EndsWith(".bias", StringComparison.Ordinal)) p.zero_();
            else p.normal_(0, 0.02, generator);
        }
    }

    void InitialiseRouterPrompts()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        for (int i = 0; i < Config.Router.NumExperts; i++)
        {
            string role = Config.Router.ExpertRoles[i];
            string text = Config.Router.InitialPrompts.TryGetValue(role, out var t) ? t : role;
            var ids = LlmTokenizer.Encode(text, addSpecialTokens: false).Select(x => (long)x).ToArray();
            if (ids.Length == 0) continue;
            Encoder.Router.InitialisePrompt(i, Base.Embed(tensor(ids).unsqueeze(0)).squeeze(0));
        }
    }

    void MoveTo(Device device)
    {
        if (device.type == DeviceType.CPU) return;
        Encoder.to(device);
        Base.to(device);
        foreach (var expert in _experts.Values) expert.to(device);
    }

    /// <summary>Tokenizer files copied into <c>llm/</c> on save when the LLM's tokenizer is not the word-level one.</summary>
    public List<string> TokenizerFiles { get; } = [];

    /// <summary>The paper-scale assembly: a VLM encoder loaded from InstructBLIP and a pretrained Llama with its tokenizers.</summary>
    public static RsMoeModel FromParts(RsMoeConfig config, VlmEncoder encoder, LlamaForCausalLM llm, BertWordPieceTokenizer instructions,
        ITextTokenizer llmTokenizer, IEnumerable<string> tokenizerFiles, bool initialiseRouterPrompts = true, Device? device = null)
    {
        var model = new RsMoeModel(config, encoder, llm, instructions, llmTokenizer, device ?? CPU);
        model.TokenizerFiles.AddRange(tokenizerFiles);
        if (initialiseRouterPrompts) model.InitialiseRouterPrompts();
        model.MoveTo(model.Device);
        return model;
    }

    /// <summary>Stage II: every expert starts as a copy of the Stage I model with a fresh LoRA adapter.</summary>
    public void StartExperts()
    {
        foreach (var expert in _experts.Values) expert.Dispose();
        _experts.Clear();
        foreach (var role in Config.Router.ExpertRoles)
        {
            var copy = LlamaForCausalLM.Create(Config.Llm, Base.DType, seed: 0);
            StateDictLoader.Load(copy, BaseWeights(Base)).EnsureComplete($"expert {role} from the Stage I model");
            LoraInjector.Attach(copy, Config.ExpertLora);
            if (Device.type != DeviceType.CPU) copy.to(Device);
            _experts[role] = copy;
        }
    }

    /// <summary>The Q-Former's instruction ids [B, T] and mask [B, T], right-padded.</summary>
    public (Tensor Ids, Tensor Mask) EncodeInstructions(IReadOnlyList<string> instructions) =>
        EncodeInstructions(InstructionTokenizer, Config.MaxInstructionTokens, instructions, Device);

    /// <summary>The Q-Former's instruction ids [B, T] and mask [B, T], right-padded, at most <paramref name="maxTokens"/> each.</summary>
    public static (Tensor Ids, Tensor Mask) EncodeInstructions(BertWordPieceTokenizer tokenizer, int maxTokens, IReadOnlyList<string> instructions, Device device)
    {
        var rows = instructions.Select(i => tokenizer.Encode(i).Take(maxTokens).Select(x => (long)x).ToArray()).ToList();
        int width = Math.Max(1, rows.Max(r => r.Length));
        var ids = new long[rows.Count * width];
        var mask = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
            for (int k = 0; k < rows[r].Length; k++) { ids[r * width + k] = rows[r][k]; mask[r * width + k] = 1; }
        return (tensor(ids, [rows.Count, width], ScalarType.Int64, device), tensor(mask, [rows.Count, width], ScalarType.Int64, device));
    }

    /// <summary>Visual tokens [B, N, vision] and instructions to per-expert prefixes and the gate.</summary>
    public VlmEncoderOutput Encode(Tensor visualTokens, IReadOnlyList<string> instructions)
    {
        using var scope = NewDisposeScope();
        var (ids, mask) = EncodeInstructions(instructions);
        var output = Encoder.Forward(visualTokens.to(ScalarType.Float32, Device), ids, mask);
        output.VisualPrefix.MoveToOuterDisposeScope();
        output.Routing.Prompts.MoveToOuterDisposeScope();
        output.Routing.GateLogits.MoveToOuterDisposeScope();
        return output;
    }

    /// <summary>
    /// Teacher-forcing inputs for one language model: each row is its prefix embeddings, then BOS and the prompt's
    /// tokens, then the target's tokens and EOS; labels are −100 except on the target and EOS. Right-padded.
    /// </summary>
    public (Tensor Embeds, Tensor Labels) TeacherForcing(LlamaForCausalLM lm, IReadOnlyList<Tensor> prefixes, IReadOnlyList<string> prompts, IReadOnlyList<string> targets)
    {
        using var scope = NewDisposeScope();
        int eos = LlmTokenizer.EosTokenIds[0];
        var rows = new List<Tensor>();
        var labelRows = new List<long[]>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var promptIds = LlmTokenizer.Encode(prompts[i], addSpecialTokens: true).Select(x => (long)x).ToArray();
            var targetIds = LlmTokenizer.Encode(targets[i], addSpecialTokens: false).Select(x => (long)x).Append(eos).ToArray();
            var tokenEmbeds = lm.Embed(tensor(promptIds.Concat(targetIds).ToArray(), ScalarType.Int64, Device).unsqueeze(0)).squeeze(0);
            rows.Add(cat([prefixes[i].to(tokenEmbeds.dtype), tokenEmbeds], 0));
            long prefixLength = prefixes[i].shape[0] + promptIds.Length;
            labelRows.Add(Enumerable.Repeat(-100L, (int)prefixLength).Concat(targetIds).ToArray());
        }
        int length = rows.Max(r => (int)r.shape[0]);
        var padded = rows.Select(r => r.shape[0] == length ? r : cat([r, zeros([length - r.shape[0], r.shape[1]], r.dtype, Device)], 0)).ToList();
        var labels = new long[rows.Count * length];
        Array.Fill(labels, -100L);
        for (int i = 0; i < labelRows.Count; i++) Array.Copy(labelRows[i], 0, labels, i * length, labelRows[i].Length);
        return (stack(padded, 0).MoveToOuterDisposeScope(), tensor(labels, [rows.Count, length], ScalarType.Int64, Device).MoveToOuterDisposeScope());
    }

    /// <summary>Mean next-token cross-entropy over labelled positions.</summary>
    public static Tensor LanguageModelLoss(LlamaForCausalLM lm, Tensor embeds, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var positions = arange(embeds.shape[1], ScalarType.Int64, embeds.device).unsqueeze(0).expand(embeds.shape[0], -1);
        var logits = lm.Forward(embeds, positions);
        var shiftedLogits = logits.narrow(1, 0, logits.shape[1] - 1).reshape(-1, logits.shape[2]);
        var shiftedLabels = labels.narrow(1, 1, labels.shape[1] - 1).reshape(-1);
        return nn.functional.cross_entropy(shiftedLogits.to_type(ScalarType.Float32), shiftedLabels, ignore_index: -100).MoveToOuterDisposeScope();
    }

    /// <summary>The weights the CPU decoder reads for the base and every expert (see <see cref="LlamaForCausalLM.UseDecodeWeights"/>).</summary>
    public void UseDecodeWeights(Decoding.DecodeWeightFormat format)
    {
        Base.UseDecodeWeights(format);
        foreach (var expert in _experts.Values) expert.UseDecodeWeights(format);
    }

    public LlamaForCausalLM ExpertOrBase(string role) => _experts.TryGetValue(role, out var e) ? e : Base;

    /// <summary>How a caption's sections are decoded when the caller says nothing else.</summary>
    public static GenerationOptions DefaultCaptionOptions { get; } = new() { MaxNewTokens = CaptionPolicy.CaptionMaxNewTokens, RepetitionPenalty = CaptionPolicy.CaptionRepetitionPenalty };

    /// <summary>Every expert writes its section; sections are merged in aspect order.</summary>
    public CaptionResult Caption(Tensor visualTokens, string instruction, GenerationOptions? options = null, Action<string, string>? onText = null,
        IReadOnlyCollection<string>? onlyRoles = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        options ??= DefaultCaptionOptions;
        options = options with { StopTokenIds = LlmTokenizer.EosTokenIds };
        using var encoded = Encode(visualTokens.narrow(0, 0, 1), [instruction]);
        var gate = encoded.Routing.Gate()[0].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        var sections = new List<CaptionSection>();
        var promptIds = LlmTokenizer.Encode(instruction, addSpecialTokens: true);
        if (_bank is not null)
        {
            // One batched pass: row i is expert i's prefix and prompt, decoded with its adapter.
            var roles = Config.Router.ExpertRoles.Select((role, i) => (role, i)).Where(x => onlyRoles is null || onlyRoles.Contains(x.role)).ToList();
            var prompts = roles.Select(x => new GenerationPrompt(promptIds, encoded.ExpertPrefix(0, x.i), _bank.IndexOf(x.role))).ToList();
            var batch = new TextGenerator(Base, _bank).Generate(prompts, options,
                onText is null ? null : (row, token) => onText(roles[row].role, LlmTokenizer.Decode([token])));
            sections.AddRange(roles.Select((x, row) => new CaptionSection(x.role, x.role, LlmTokenizer.Decode(batch.Tokens[row]).Trim())));
            var (mergedCaption, mergedSections) = SectionMerger.Merge(sections);
            return new CaptionResult(mergedCaption, mergedSections, gate);
        }
        for (int i = 0; i < Config.Router.NumExperts; i++)
        {
            string role = Config.Router.ExpertRoles[i];
            if (onlyRoles is not null && !onlyRoles.Contains(role)) continue;
            var lm = ExpertOrBase(role);
            var prefix = encoded.ExpertPrefix(0, i);
            var result = new TextGenerator(lm).Generate([new GenerationPrompt(promptIds, prefix)], options,
                onText is null ? null : (_, token) => onText(role, LlmTokenizer.Decode([token])));
            sections.Add(new CaptionSection(role, role, LlmTokenizer.Decode(result.Tokens[0]).Trim()));
            if (_experts.Count == 0) break;   // before Stage II there is one model, not three experts
        }
        var (caption, merged) = SectionMerger.Merge(sections);
        return new CaptionResult(caption, merged, gate);
    }

    /// <summary>The expert <see cref="CaptionPolicy.AnswerOrder"/> puts first answers the question (in one process, none is unavailable).</summary>
    public AnswerResult Ask(Tensor visualTokens, string question, GenerationOptions? options = null)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        options ??= new GenerationOptions { MaxNewTokens = CaptionPolicy.AnswerMaxNewTokens };
        options = options with { StopTokenIds = LlmTokenizer.EosTokenIds };
        using var encoded = Encode(visualTokens.narrow(0, 0, 1), [question]);
        var gate = encoded.Routing.Gate()[0].to_type(ScalarType.Float64).cpu().data<double>().ToArray();
        int top = CaptionPolicy.AnswerOrder(gate)[0];
        string role = Config.Router.ExpertRoles[top];
        var result = _bank is not null
            ? new TextGenerator(Base, _bank).Generate(
                [new GenerationPrompt(LlmTokenizer.Encode(question, addSpecialTokens: true), encoded.ExpertPrefix(0, top), _bank.IndexOf(role))], options)
            : new TextGenerator(ExpertOrBase(role)).Generate(
                [new GenerationPrompt(LlmTokenizer.Encode(question, addSpecialTokens: true), encoded.ExpertPrefix(0, top))], options);
        return new AnswerResult(LlmTokenizer.Decode(result.Tokens[0]).Trim(), role, gate);
    }

    public void Save(string directory)
    {
        Directory.CreateDirectory(directory);
        Config.Save(Path.Combine(directory, "rsmoe_config.json"));
        File.WriteAllLines(Path.Combine(directory, Config.InstructionVocabulary), InstructionTokenizer.Vocabulary);
        if (LlmTokenizer is WordLevelTokenizer words) words.Save(Path.Combine(directory, Config.LlmVocabulary));
        SafetensorsWriter.Save(Path.Combine(directory, "vlm_encoder.safetensors"), Encoder.state_dict().Where(p => !p.Key.Contains(".lora_")),
            new Dictionary<string, string> { ["format"] = "pt" });
        Base.SavePretrained(Path.Combine(directory, "llm"));
        foreach (var file in TokenizerFiles) File.Copy(file, Path.Combine(directory, "llm", Path.GetFileName(file)), overwrite: true);
        foreach (var (role, expert) in _experts)
            PeftAdapter.Save(expert, Path.Combine(directory, "experts", role), baseModel: "../../llm");
    }

    /// <summary>A model folder's <c>rsmoe_config.json</c>.</summary>
    public static RsMoeConfig LoadConfig(string directory)
    {
        string configPath = Path.Combine(directory, "rsmoe_config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"'{directory}' is not an RS-MoE model folder (no rsmoe_config.json)", configPath);
        return RsMoeConfig.Load(configPath);
    }

    public static BertWordPieceTokenizer LoadInstructionTokenizer(string directory, RsMoeConfig config) =>
        BertWordPieceTokenizer.FromVocabulary(File.ReadAllLines(Path.Combine(directory, config.InstructionVocabulary)));

    /// <summary>The word-level vocabulary of a model trained here, else the tokenizer files beside the LLM.</summary>
    public static ITextTokenizer LoadLlmTokenizer(string directory, RsMoeConfig config) =>
        File.Exists(Path.Combine(directory, config.LlmVocabulary))
            ? WordLevelTokenizer.Load(Path.Combine(directory, config.LlmVocabulary))
            : TokenizerLoader.FromDirectory(Path.Combine(directory, "llm"));

    /// <summary>The VLM encoder with the router from <c>vlm_encoder.safetensors</c>, every key checked, in eval mode.</summary>
    public static VlmEncoder LoadVlmEncoder(string directory, RsMoeConfig config)
    {
        var encoder = new VlmEncoder(config.QFormer, config.NumQueryTokens, config.Llm.HiddenSize, config.Router);
        using (var checkpoint = CheckpointDirectory.Open(Path.Combine(directory, "vlm_encoder.safetensors")))
            StateDictLoader.Load(encoder, checkpoint).EnsureComplete($"VLM encoder in {directory}");
        encoder.eval();
        return encoder;
    }

    /// <param name="sharedBase">
    /// Hold one base model and the experts' adapters as a <see cref="LoraBank"/> instead of one merged copy per expert:
    /// a fraction of the memory, and captions decode their sections together (small deployments, the embedded default).
    /// </param>
    public static RsMoeModel Load(string directory, Device? device = null, bool mergeAdapters = true, bool sharedBase = false)
    {
        device ??= CPU;
        var config = LoadConfig(directory);
        var encoder = LoadVlmEncoder(directory, config);
        var llm = LlamaForCausalLM.FromPretrained(Path.Combine(directory, "llm"));
        var model = new RsMoeModel(config, encoder, llm, LoadInstructionTokenizer(directory, config), LoadLlmTokenizer(directory, config), device);
        string experts = Path.Combine(directory, "experts");
        if (Directory.Exists(experts) && sharedBase)
        {
            foreach (var role in config.Router.ExpertRoles)
                if (!Directory.Exists(Path.Combine(experts, role))) throw new FileNotFoundException($"expert '{role}' has no adapter in {experts}");
        }
        else if (Directory.Exists(experts))
        {
            foreach (var role in config.Router.ExpertRoles)
            {
                string adapter = Path.Combine(experts, role);
                if (!Directory.Exists(adapter)) throw new FileNotFoundException($"expert '{role}' has no adapter in {experts}");
                model._experts[role] = LoadExpert(config, llm, adapter, mergeAdapters);
            }
        }
        model.MoveTo(device);
        if (Directory.Exists(experts) && sharedBase)
            model._bank = LoraBank.Load(llm, config.Router.ExpertRoles.Select(role => (role, Path.Combine(experts, role))).ToList());
        return model;
    }

    /// <summary>The base model plus one role's adapter, merged for inference speed unless training goes on.</summary>
    public static LlamaForCausalLM LoadExpert(RsMoeConfig config, LlamaForCausalLM baseModel, string adapterDirectory, bool merge = true)
    {
        var expert = LlamaForCausalLM.Create(config.Llm, baseModel.DType);
        StateDictLoader.Load(expert, BaseWeights(baseModel)).EnsureComplete("expert base");
        return WithAdapter(expert, adapterDirectory, merge);
    }

    /// <summary>
    /// One role's expert built straight from a model folder's base language model on disk, its adapter merged: a
    /// process that serves one expert holds this one copy of the weights, not the base beside it.
    /// </summary>
    public static LlamaForCausalLM LoadExpert(string modelDirectory, string adapterDirectory, Device? device = null)
    {
        var expert = WithAdapter(LlamaForCausalLM.FromPretrained(Path.Combine(modelDirectory, "llm")), adapterDirectory, merge: true);
        if (device is not null && device.type != DeviceType.CPU) expert.to(device);
        return expert;
    }

    /// <summary>A base language model with one role's adapter attached (and merged); the model is disposed if the adapter does not fit.</summary>
    static LlamaForCausalLM WithAdapter(LlamaForCausalLM expert, string adapterDirectory, bool merge)
    {
        try
        {
            PeftAdapter.Load(expert, adapterDirectory);
            if (merge) LoraInjector.Merge(expert);
            expert.eval();
            return expert;
        }
        catch
        {
            expert.Dispose();
            throw;
        }
    }

    /// <summary>A language model's weights without any LoRA adapter tensors (merged Stage I adapters are already in them).</summary>
    static Dictionary<string, Tensor> BaseWeights(LlamaForCausalLM lm) =>
        lm.state_dict().Where(p => !p.Key.Contains(".lora_", StringComparison.Ordinal)).ToDictionary(p => p.Key, p => p.Value);

    public void Dispose()
    {
        _bank?.Dispose();
        Encoder.Dispose();
        Base.Dispose();
        foreach (var expert in _experts.Values) expert.Dispose();
    }
}
