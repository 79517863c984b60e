using System.Runtime.CompilerServices;
using RsMoe.Model.Llm;
using RsMoe.Model.Lora;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Decoding;

/// <summary>
/// Single-token decode steps of a Llama model on the CPU without a libtorch call per operation: a decode step is
/// ~15 small operations per layer, and at TorchSharp's per-call cost (a handle, a dispose-scope entry, a P/Invoke)
/// that overhead rivalled the weight reads on small models. Here every layer is plain vectorised C# over the
/// model's own weight memory (fp32 or bf16, read in place), with the matrix products split across threads by output
/// rows. Any number of sequences step together, each with its own length and (with a <see cref="LoraBank"/>) its
/// own adapter, so the weights are read once per step for all of them. Prefill stays with libtorch, whose
/// matrix-matrix kernels are what long prompts need; its cache is copied in with <see cref="Adopt"/>.
/// One decoder is used by one thread at a time; it holds views of the model's weights, not copies.
/// </summary>
public sealed unsafe class CpuDecoder
{
    readonly struct Linear(WeightView weight, WeightView bias, WeightView bankA, WeightView bankB)
    {
        public readonly WeightView Weight = weight, Bias = bias, BankA = bankA, BankB = bankB;
        public int Out => Weight.Rows;
        public int In => Weight.Columns;
    }

    sealed record Layer(Linear Q, Linear K, Linear V, Linear O, Linear Gate, Linear Up, Linear Down, WeightView InputNorm, WeightView PostNorm);

    readonly Layer[] _layers;
    readonly WeightView _embed, _norm, _head;
    readonly float _eps, _scale;
    readonly int _hidden, _intermediate, _heads, _kvHeads, _headDim, _vocab, _rank, _threads;
    readonly float[] _inverseFrequencies;
    float[] _cos = [], _sin = [];

    // Per-step buffers, grown to the largest batch seen.
    int _rows;
    float[] _x = [], _normed = [], _packed = [], _q = [], _k = [], _v = [], _attn = [], _gate = [], _up = [], _out = [], _scores = [];
    float[] _loraDown = [];
    float[] _logits = [];

    public int VocabSize => _vocab;
    public int Threads => _threads;

    /// <summary>Times each phase of every step while set (null: no clock is read).</summary>
    public DecodeProfile? Profile { get; set; }

    /// <summary>Bytes of weights one decode step reads: every layer's projections and norms, the final norm and the output head.</summary>
    public long WeightBytesPerStep =>
        _layers.Sum(l => new[] { l.Q, l.K, l.V, l.O, l.Gate, l.Up, l.Down }.Sum(x => x.Weight.Bytes + x.Bias.Bytes) + l.InputNorm.Bytes + l.PostNorm.Bytes)
        + _norm.Bytes + _head.Bytes;

    /// <summary>Why <paramref name="lm"/> cannot be decoded here (null when it can).</summary>
    public static string? Unsupported(LlamaForCausalLM lm)
    {
        if (lm.Device.type != DeviceType.CPU) return "the model is not on the CPU";
        if (lm.training) return "the model is in training mode";
        foreach (var (name, p) in lm.named_parameters())
        {
            if (name.Contains(".lora_", StringComparison.Ordinal)) continue;
            if (!WeightView.CanView(p)) return $"'{name}' is {p.dtype}, not contiguous fp32/bf16";
        }
        foreach (var (path, layer) in LoraInjector.Layers(lm))
            if (layer.Adapter is not null && !layer.IsMerged) return $"'{path}' has an unmerged adapter (merge it or use a LoraBank)";
        return null;
    }

    public CpuDecoder(LlamaForCausalLM lm, int? threads = null)
    {
        if (Unsupported(lm) is { } reason) throw new NotSupportedException($"the CPU decoder cannot run this model: {reason}");
        var config = lm.Config;
        _hidden = config.HiddenSize;
        _intermediate = config.IntermediateSize;
        _heads = config.NumAttentionHeads;
        _kvHeads = config.KeyValueHeads;
        _headDim = config.HeadDimension;
        _vocab = config.VocabSize;
        _eps = (float)config.RmsNormEps;
        _scale = 1f / MathF.Sqrt(_headDim);
        _threads = Math.Max(1, threads ?? get_num_threads());
        _inverseFrequencies = LlamaRotaryEmbedding.InverseFrequencies(config);
        _embed = WeightView.Of(lm.Model.EmbedTokens.weight!);
        _norm = WeightView.Of(lm.Model.Norm.Weight);
        _head = lm.HeadDecodeWeight is { } head ? WeightView.Of(head) : WeightView.Of(lm.HeadWeight);
        _layers = lm.Model.Layers.Select(l => new Layer(
            View(l.SelfAttention.QProj), View(l.SelfAttention.KProj), View(l.SelfAttention.VProj), View(l.SelfAttention.OProj),
            View(l.Mlp.GateProj), View(l.Mlp.UpProj), View(l.Mlp.DownProj),
            WeightView.Of(l.InputNorm.Weight), WeightView.Of(l.PostAttentionNorm.Weight))).ToArray();
        _rank = LoraInjector.Layers(lm).Select(l => l.Layer.Bank?.Bank.Rank ?? 0).DefaultIfEmpty(0).Max();
    }

    static Linear View(LoraLinear layer)
    {
        var bank = layer.Bank;
        if (bank is { } b && b.A.device_type != DeviceType.CPU) throw new NotSupportedException("the LoRA bank is not on the CPU");
        return new Linear(layer.DecodeWeight is { } q8 ? WeightView.Of(q8) : WeightView.Of(layer.Weight), WeightView.OfOptional(layer.Bias),
            bank is { } x ? FlatView(x.A) : default, bank is { } y ? FlatView(y.BT) : default);
    }

    /// <summary>A contiguous [N, rows, columns] fp32 stack seen as [N·rows, columns].</summary>
    static WeightView FlatView(Tensor stacked)
    {
        using var flat = stacked.view(-1, stacked.shape[^1]);
        return WeightView.Of(flat);
    }

    public DecodeSequence NewSequence(int capacity, int adapter = -1) =>
        new(_layers.Length, _kvHeads * _headDim, capacity, adapter);

    /// <summary>
    /// Takes over one row of a prefilled libtorch cache: the last <paramref name="positions"/> cached positions of
    /// row <paramref name="row"/> (left padding excluded) become the sequence's first positions.
    /// </summary>
    public void Adopt(DecodeSequence sequence, KvCache cache, int row, int positions)
    {
        if (positions > cache.Length) throw new ArgumentOutOfRangeException(nameof(positions));
        sequence.Reserve(positions);
        using var scope = NewDisposeScope();
        for (int l = 0; l < _layers.Length; l++)
        {
            var (keys, values) = cache.Layer(l);
            sequence.Fill(l, RowPositions(keys), RowPositions(values), positions);
        }

        float[] RowPositions(Tensor t) => t[row].narrow(1, cache.Length - positions, positions).transpose(0, 1)
            .to_type(ScalarType.Float32).contiguous().data<float>().ToArray();
    }

    /// <summary>
    /// Feeds one token to each sequence and computes the next-token logits of each (row i of <see cref="Logits"/>).
    /// Every sequence gains one position.
    /// </summary>
    public void Step(IReadOnlyList<DecodeSequence> sequences, ReadOnlySpan<int> tokens)
    {
        int rows = sequences.Count;
        if (tokens.Length != rows) throw new ArgumentException("one token per sequence");
        for (int r = 0; r < rows; r++)
        {
            if ((uint)tokens[r] >= (uint)_vocab) throw new ArgumentOutOfRangeException(nameof(tokens), $"token {tokens[r]} is outside the vocabulary");
            sequences[r].Reserve(1);
        }
        EnsureBuffers(rows, sequences.Max(s => s.Length) + 1);
        EnsureRope(sequences.Max(s => s.Length) + 1);

        var profile = Profile;
        profile?.Start();
        _team = ThreadTeam.Rent(_threads);
        try { StepLayers(sequences, tokens, rows, profile); }
        finally
        {
            ThreadTeam.Return(_team);
            _team = null;
        }
        if (profile is not null) profile.Steps++;
        foreach (var sequence in sequences) sequence.Advance();
    }

    void StepLayers(IReadOnlyList<DecodeSequence> sequences, ReadOnlySpan<int> tokens, int rows, DecodeProfile? profile)
    {
        fixed (float* x = _x, normed = _normed, q = _q, k = _k, v = _v, attn = _attn, gate = _gate, up = _up, output = _out, logits = _logits)
        {
            for (int r = 0; r < rows; r++) _embed.CopyRow(tokens[r], x + (long)r * _hidden);
            profile?.Mark(DecodeProfile.Phase.Embed);
            for (int l = 0; l < _layers.Length; l++)
            {
                var layer = _layers[l];
                for (int r = 0; r < rows; r++) DecodeKernels.RmsNorm(x + r * _hidden, layer.InputNorm, _eps, normed + r * _hidden, _hidden);
                profile?.Mark(DecodeProfile.Phase.Norms);
                Project(normed, rows, sequences, (layer.Q, (nint)q), (layer.K, (nint)k), (layer.V, (nint)v));
                profile?.Mark(DecodeProfile.Phase.QkvProjection);

                int kvWidth = _kvHeads * _headDim;
                for (int r = 0; r < rows; r++)
                {
                    var sequence = sequences[r];
                    int position = sequence.Length;
                    fixed (float* cos = &_cos[position * _headDim], sin = &_sin[position * _headDim])
                    {
                        DecodeKernels.Rope(q + r * _heads * _headDim, _heads, _headDim, cos, sin);
                        DecodeKernels.Rope(k + r * kvWidth, _kvHeads, _headDim, cos, sin);
                    }
                    Buffer.MemoryCopy(k + r * kvWidth, sequence.Keys(l) + (long)position * kvWidth, kvWidth * 4L, kvWidth * 4L);
                    Buffer.MemoryCopy(v + r * kvWidth, sequence.Values(l) + (long)position * kvWidth, kvWidth * 4L, kvWidth * 4L);
                }
                profile?.Mark(DecodeProfile.Phase.RopeAndCache);
                Attend(sequences, l, q, attn);
                profile?.Mark(DecodeProfile.Phase.Attention);

                Project(attn, rows, sequences, (layer.O, (nint)output));
                profile?.Mark(DecodeProfile.Phase.OProjection);
                for (int r = 0; r < rows; r++) DecodeKernels.Add(x + r * _hidden, output + r * _hidden, _hidden);

                for (int r = 0; r < rows; r++) DecodeKernels.RmsNorm(x + r * _hidden, layer.PostNorm, _eps, normed + r * _hidden, _hidden);
                profile?.Mark(DecodeProfile.Phase.Norms);
                Project(normed, rows, sequences, (layer.Gate, (nint)gate), (layer.Up, (nint)up));
                profile?.Mark(DecodeProfile.Phase.GateUpProjection);
                DecodeKernels.SiluMul(gate, up, rows * _intermediate);
                profile?.Mark(DecodeProfile.Phase.SiluMul);
                Project(gate, rows, sequences, (layer.Down, (nint)output));
                profile?.Mark(DecodeProfile.Phase.DownProjection);
                for (int r = 0; r < rows; r++) DecodeKernels.Add(x + r * _hidden, output + r * _hidden, _hidden);
            }
            for (int r = 0; r < rows; r++) DecodeKernels.RmsNorm(x + r * _hidden, _norm, _eps, normed + r * _hidden, _hidden);
            profile?.Mark(DecodeProfile.Phase.Norms);
            Project(normed, rows, sequences, (new Linear(_head, default, default, default), (nint)logits));
            profile?.Mark(DecodeProfile.Phase.Head);
        }
    }

    /// <summary>Row <paramref name="row"/>'s next-token logits from the last <see cref="Step"/>.</summary>
    public ReadOnlySpan<float> Logits(int row) => new(_logits, row * _vocab, _vocab);

    /// <summary>The last step's logits as a [rows, vocab] tensor.</summary>
    public Tensor LogitsTensor(int rows) => tensor(new ReadOnlySpan<float>(_logits, 0, rows * _vocab).ToArray(), [rows, _vocab]);

    // ---- projections ----

    // The current projection group, read by the worker lambda (pointers cannot be captured).
    Linear[] _group = new Linear[3];
    nint[] _groupOutputs = new nint[3];
    int _groupCount, _groupRows, _groupParts;
    Action<int>? _projectPart, _attendPart;
    ThreadTeam? _team;   // rented for the step being decoded
    nint _groupInput, _groupPacked;

    void Project(float* input, int rows, IReadOnlyList<DecodeSequence> sequences, params ReadOnlySpan<(Linear Linear, nint Output)> group)
    {
        int inFeatures = group[0].Linear.In;
        var format = group[0].Linear.Weight.Format;
        long work = 0;
        for (int j = 0; j < group.Length; j++)
        {
            _group[j] = group[j].Linear;
            _groupOutputs[j] = group[j].Output;
            // One packing of the input serves the whole group, so its matrices share a format (they share their input width, which decides quantisation).
            if (group[j].Linear.Weight.Format != format) throw new InvalidOperationException("a projection group mixes weight formats");
            work += (long)group[j].Linear.Out * inFeatures;
        }
        fixed (float* packed = _packed)
        {
            if (format == WeightView.Kind.Bf16)
                for (int r = 0; r < rows; r++) DecodeKernels.PackForBf16(input + (long)r * inFeatures, packed + (long)r * inFeatures, inFeatures);
            else if (format == WeightView.Kind.Q8_0)
                for (int r = 0; r < rows; r++) DecodeKernels.QuantizeActivations(input + (long)r * inFeatures, (byte*)(packed + (long)r * inFeatures), inFeatures);
            Profile?.Mark(DecodeProfile.Phase.InputPacking);
            _groupCount = group.Length;
            _groupRows = rows;
            _groupInput = (nint)input;
            _groupPacked = (nint)packed;
            // Small matrices are not worth waking another thread for.
            _groupParts = work * rows < (1L << 16) ? 1 : _threads;
            _team!.Run(_groupParts, _projectPart ??= ProjectPart);
        }
        for (int j = 0; j < group.Length; j++)
        {
            var linear = group[j].Linear;
            float* y = (float*)group[j].Output;
            if (!linear.Bias.IsEmpty)
                for (int r = 0; r < rows; r++)
                    for (int o = 0; o < linear.Out; o++) y[(long)r * linear.Out + o] += linear.Bias[o];
            if (!linear.BankA.IsEmpty) AddAdapterUpdates(linear, input, rows, sequences, y);
        }
    }

    void ProjectPart(int part)
    {
        int parts = _groupParts;
        float* input = (float*)_groupInput, packed = (float*)_groupPacked;
        for (int j = 0; j < _groupCount; j++)
        {
            var linear = _group[j];
            var (start, end) = DecodeKernels.OutputRows(linear.Out, part, parts);
            if (start < end) DecodeKernels.MatMul(linear.Weight, input, packed, _groupRows, (float*)_groupOutputs[j], linear.Out, start, end);
        }
    }

    /// <summary>y[r] += B[a]·(A[a]·x[r]) for each row's adapter a (B is pre-scaled and read transposed: r rows of length out).</summary>
    void AddAdapterUpdates(in Linear linear, float* input, int rows, IReadOnlyList<DecodeSequence> sequences, float* y)
    {
        fixed (float* down = _loraDown)
        {
            for (int r = 0; r < rows; r++)
            {
                int a = sequences[r].Adapter;
                if (a < 0) continue;
                float* xr = input + (long)r * linear.In;
                // The kernel writes output row o at y[o]; shift so adapter a's rows land at the buffer's start.
                DecodeKernels.MatMul(linear.BankA, xr, xr, 1, down - a * _rank, 0, a * _rank, (a + 1) * _rank);
                float* yr = y + (long)r * linear.Out;
                float* bt = (float*)linear.BankB.Data + (long)a * _rank * linear.Out;
                for (int j = 0; j < _rank; j++) DecodeKernels.AddScaled(yr, bt + (long)j * linear.Out, down[j], linear.Out);
            }
        }
    }

    // ---- attention ----

    nint _attnQuery, _attnOutput;
    IReadOnlyList<DecodeSequence>? _attnSequences;
    int _attnLayer, _attnParts;

    void Attend(IReadOnlyList<DecodeSequence> sequences, int layer, float* q, float* output)
    {
        _attnSequences = sequences;
        _attnLayer = layer;
        _attnQuery = (nint)q;
        _attnOutput = (nint)output;
        int pairs = sequences.Count * _heads;
        long work = (long)pairs * sequences.Max(s => s.Length + 1) * _headDim;
        _attnParts = work < (1L << 15) ? 1 : Math.Min(_threads, pairs);
        _team!.Run(_attnParts, _attendPart ??= AttendPart);
        _attnSequences = null;
    }

    void AttendPart(int part)
    {
        int parts = _attnParts;
        var sequences = _attnSequences!;
        int pairs = sequences.Count * _heads, groups = _heads / _kvHeads, kvWidth = _kvHeads * _headDim;
        int chunk = (pairs + parts - 1) / parts;
        int scoresStride = _scores.Length / _threads;
        fixed (float* scoresBase = _scores)
        {
            float* scores = scoresBase + part * scoresStride;
            for (int pair = part * chunk; pair < Math.Min(pairs, (part + 1) * chunk); pair++)
            {
                int r = pair / _heads, h = pair % _heads, g = h / groups;
                var sequence = sequences[r];
                int length = sequence.Length + 1;   // this step's key is already written
                DecodeKernels.Attend((float*)_attnQuery + ((long)r * _heads + h) * _headDim,
                    sequence.Keys(_attnLayer) + g * _headDim, sequence.Values(_attnLayer) + g * _headDim,
                    length, kvWidth, _headDim, _scale, scores, (float*)_attnOutput + ((long)r * _heads + h) * _headDim);
            }
        }
    }

    // ---- buffers and tables ----

    void EnsureBuffers(int rows, int length)
    {
        if (rows > _rows)
        {
            _x = new float[rows * _hidden];
            _normed = new float[rows * _hidden];
            _packed = new float[rows * Math.Max(_hidden, Math.Max(_intermediate, _heads * _headDim))];
            _q = new float[rows * _heads * _headDim];
            _k = new float[rows * _kvHeads * _headDim];
            _v = new float[rows * _kvHeads * _headDim];
            _attn = new float[rows * _heads * _headDim];
            _gate = new float[rows * _intermediate];
            _up = new float[rows * _intermediate];
            _out = new float[rows * Math.Max(_hidden, _intermediate)];
            _loraDown = new float[Math.Max(1, _rank)];
            _rows = rows;
        }
        if (_logits.Length < rows * _vocab) _logits = new float[rows * _vocab];
        if (_scores.Length < _threads * length) _scores = new float[_threads * Math.Max(length, 256) * 2];
    }

    void EnsureRope(int positions)
    {
        if (_cos.Length >= positions * _headDim) return;
        int size = Math.Max(positions, Math.Max(256, _cos.Length / _headDim * 2));
        var cos = new float[size * _headDim];
        var sin = new float[size * _headDim];
        int half = _headDim / 2;
        for (int p = 0; p < size; p++)
            for (int i = 0; i < half; i++)
            {
                // fp32 angles, as transformers computes them.
                float angle = p * _inverseFrequencies[i];
                cos[p * _headDim + i] = cos[p * _headDim + i + half] = MathF.Cos(angle);
                sin[p * _headDim + i] = sin[p * _headDim + i + half] = MathF.Sin(angle);
            }
        _cos = cos;
        _sin = sin;
    }
}
