using RsMoe.Model.Checkpoints;
using RsMoe.Model.Llm;
using TorchSharp;
using static TorchSharp.torch;

namespace RsMoe.Model.Lora;

/// <summary>
/// Several LoRA adapters over one shared base model, stacked per layer, so that one batched forward pass gives every
/// row its own adapter (the idea S-LoRA and Punica published): the base weights are read once for all rows and each
/// row adds only its adapter's low-rank update. Ranks may differ (smaller ones are zero-padded); each B is stored
/// pre-multiplied by its adapter's alpha / r. The bank is used by one caller at a time (rows are chosen per pass).
/// </summary>
public sealed class LoraBank : IDisposable
{
    readonly List<LoraLinear> _layers = [];
    readonly List<Tensor> _tensors = [];

    public IReadOnlyList<string> Names { get; }
    public IReadOnlyList<string> Directories { get; }
    public int Rank { get; }
    /// <summary>The adapter of each row of the current forward pass ([batch] int64), null outside <see cref="Select"/>.</summary>
    internal Tensor? RowAdapters { get; private set; }

    LoraBank(IReadOnlyList<string> names, IReadOnlyList<string> directories, int rank)
    {
        Names = names;
        Directories = directories;
        Rank = rank;
    }

    public int IndexOf(string name)
    {
        for (int i = 0; i < Names.Count; i++) if (Names[i] == name) return i;
        throw new KeyNotFoundException($"no adapter '{name}' in the bank ({string.Join(", ", Names)})");
    }

    /// <summary>Forward passes inside the returned scope give row i the adapter <paramref name="rowAdapters"/>[i].</summary>
    public IDisposable Select(IReadOnlyList<int> rowAdapters, Device device)
    {
        if (rowAdapters.Any(a => a < 0 || a >= Names.Count)) throw new ArgumentOutOfRangeException(nameof(rowAdapters), $"adapter indices lie in [0, {Names.Count})");
        RowAdapters?.Dispose();
        RowAdapters = tensor(rowAdapters.Select(a => (long)a).ToArray(), ScalarType.Int64, device).DetachFromDisposeScope();
        return new Selection(this);
    }

    sealed class Selection(LoraBank bank) : IDisposable
    {
        public void Dispose()
        {
            bank.RowAdapters?.Dispose();
            bank.RowAdapters = null;
        }
    }

    /// <summary>
    /// Loads PEFT adapters (<c>adapter_config.json</c> + <c>adapter_model.safetensors</c>) onto <paramref name="baseModel"/>,
    /// which must carry no adapter of its own. Every layer an adapter's config targets must have both matrices with the
    /// base layer's shapes, and every key must name such a layer; otherwise <see cref="InvalidDataException"/>.
    /// </summary>
    public static LoraBank Load(LlamaForCausalLM baseModel, IReadOnlyList<(string Name, string Directory)> adapters)
    {
        if (adapters.Count == 0) throw new ArgumentException("a bank needs at least one adapter");
        var layers = LoraInjector.Layers(baseModel).ToDictionary(l => l.Path, l => l.Layer);
        if (layers.Values.Any(l => l.Adapter is not null || l.Bank is not null))
            throw new InvalidOperationException("the base model of a LoRA bank must carry no adapter of its own");

        var loaded = new List<Dictionary<string, (Tensor A, Tensor B)>>();
        var configs = new List<PeftAdapterConfig>();
        try
        {
            foreach (var (name, directory) in adapters)
            {
                var config = PeftAdapter.ReadConfig(directory);
                string file = Path.Combine(directory, "adapter_model.safetensors");
                if (!File.Exists(file)) throw new FileNotFoundException($"no adapter_model.safetensors in '{directory}'", file);
                var pairs = new Dictionary<string, (Tensor A, Tensor B)>();
                loaded.Add(pairs);
                configs.Add(config);
                using var safetensors = SafetensorsFile.Open(file);
                var keys = safetensors.Entries.Keys.ToList();
                foreach (var key in keys)
                {
                    string k = key.Replace(".lora_A.default.", ".lora_A.").Replace(".lora_B.default.", ".lora_B.");
                    bool isA = k.EndsWith(".lora_A.weight", StringComparison.Ordinal), isB = k.EndsWith(".lora_B.weight", StringComparison.Ordinal);
                    if (!k.StartsWith(PeftAdapter.KeyPrefix, StringComparison.Ordinal) || !(isA || isB))
                        throw new InvalidDataException($"adapter '{name}': unexpected key '{key}'");
                    string path = k[PeftAdapter.KeyPrefix.Length..^".lora_A.weight".Length];
                    if (!layers.TryGetValue(path, out var layer) || !LoraInjector.Matches(path, config.TargetModules))
                        throw new InvalidDataException($"adapter '{name}': key '{key}' names no targeted layer of the base model");
                    var value = safetensors.Read(key).to_type(ScalarType.Float32).DetachFromDisposeScope();
                    var expected = isA ? new long[] { config.R, layer.InFeatures } : [layer.OutFeatures, config.R];
                    if (!value.shape.SequenceEqual(expected))
                    {
                        string actual = string.Join(", ", value.shape);
                        value.Dispose();
                        throw new InvalidDataException($"adapter '{name}': '{key}' is [{actual}], expected [{string.Join(", ", expected)}]");
                    }
                    pairs.TryGetValue(path, out var pair);
                    pairs[path] = isA ? (value, pair.B) : (pair.A, value);
                }
                foreach (var (path, _) in layers.Where(l => LoraInjector.Matches(l.Key, config.TargetModules)))
                    if (!pairs.TryGetValue(path, out var pair) || pair.A is null || pair.B is null)
                        throw new InvalidDataException($"adapter '{name}': no lora_A/lora_B weights for targeted layer '{path}'");
                if (pairs.Count == 0) throw new InvalidDataException($"adapter '{name}' holds no weights");
            }

            int rank = configs.Max(c => c.R);
            var bank = new LoraBank(adapters.Select(a => a.Name).ToList(), adapters.Select(a => Path.GetFullPath(a.Directory)).ToList(), rank);
            using var noGrad = no_grad();
            foreach (var path in loaded.SelectMany(p => p.Keys).Distinct().OrderBy(p => p, StringComparer.Ordinal))
            {
                var layer = layers[path];
                var a = zeros([adapters.Count, rank, layer.InFeatures], ScalarType.Float32).DetachFromDisposeScope();
                var b = zeros([adapters.Count, layer.OutFeatures, rank], ScalarType.Float32).DetachFromDisposeScope();
                for (int i = 0; i < adapters.Count; i++)
                {
                    if (!loaded[i].TryGetValue(path, out var pair)) continue;   // this adapter leaves the layer alone
                    int r = configs[i].R;
                    a[i].narrow(0, 0, r).copy_(pair.A);
                    using Scalar scaling = configs[i].LoraAlpha / r;
                    b[i].narrow(1, 0, r).copy_(pair.B.mul(scaling));
                }
                if (baseModel.Device.type != DeviceType.CPU)
                {
                    var (ca, cb) = (a.to(baseModel.Device).DetachFromDisposeScope(), b.to(baseModel.Device).DetachFromDisposeScope());
                    a.Dispose(); b.Dispose();
                    (a, b) = (ca, cb);
                }
                var bt = b.transpose(1, 2).contiguous().DetachFromDisposeScope();
                bank._tensors.Add(a);
                bank._tensors.Add(b);
                bank._tensors.Add(bt);
                layer.AttachBank(bank, a, b, bt);
                bank._layers.Add(layer);
            }
            return bank;
        }
        finally
        {
            foreach (var pairs in loaded)
                foreach (var (a, b) in pairs.Values) { a?.Dispose(); b?.Dispose(); }
        }
    }

    /// <summary>Bytes the stacked adapters hold (B twice: as libtorch and as the CPU decoder read it).</summary>
    public long Bytes => _tensors.Sum(t => t.numel() * t.element_size());

    public void Dispose()
    {
        foreach (var layer in _layers) layer.DetachBank();
        foreach (var t in _tensors) t.Dispose();
        RowAdapters?.Dispose();
    }
}
