using System.Diagnostics;
using RsMoe.Model;
using RsMoe.Model.Decoding;
using RsMoe.Model.Moe;
using RsMoe.Model.Tokenizers;

namespace RsMoe.Expert;

/// <summary>
/// Holds the expert that serves now, and swaps experts while serving: a new checkpoint is loaded and validated beside
/// the old one, then becomes current between requests. Requests that hold a lease on the old expert finish on it; it is
/// freed when the last of them ends. A checkpoint that fails validation never serves. Each expert is built from the
/// base on disk with its adapter merged, so at rest the process holds one copy of the weights (two during a reload).
/// </summary>
public sealed class ExpertSlot : IDisposable
{
    sealed class Loaded(ExpertModel model)
    {
        public ExpertModel Model { get; } = model;
        public int Users;
        public bool Retired;
    }

    /// <summary>Use of one expert for one request; disposing it lets a retired expert go.</summary>
    public readonly struct Lease(ExpertSlot slot, object loaded, ExpertModel model) : IDisposable
    {
        public ExpertModel Model { get; } = model;
        public void Dispose() => slot.Release((Loaded)loaded);
    }

    readonly object _gate = new();
    readonly SemaphoreSlim _reloading = new(1, 1);
    readonly TorchSharp.torch.Device _device;
    readonly ITextTokenizer _tokenizer;
    readonly ILogger<ExpertSlot> _logger;
    readonly ExpertOptions _options;
    readonly DecodeWeightFormat _decodeWeights;
    Loaded _current;

    /// <summary>Admission for generations that do not batch (one slot-wide limit, whatever the call).</summary>
    public SemaphoreSlim UnbatchedGenerations { get; }

    public string Role { get; }
    public RsMoeConfig Config { get; }
    public string ModelDirectory { get; }
    public string ConfiguredAdapter { get; }
    public int Reloads { get; private set; }
    public string Device => _device.ToString();
    public ExpertModel Current { get { lock (_gate) return _current.Model; } }

    public ExpertSlot(ExpertOptions options, ILogger<ExpertSlot> logger)
    {
        _logger = logger;
        _options = options;
        UnbatchedGenerations = new SemaphoreSlim(Math.Max(1, options.MaxConcurrentGenerations));
        Role = options.Role;
        _decodeWeights = DecodeWeightFormats.Parse(options.DecodeWeights);
        ModelDirectory = ModelLocator.Resolve(options.ModelDirectory);
        Config = ModelFolder.LoadConfig(ModelDirectory);
        if (!Config.Router.ExpertRoles.Contains(Role))
            throw new InvalidOperationException($"the model's router has no role '{Role}' (it has {string.Join(", ", Config.Router.ExpertRoles)})");
        ConfiguredAdapter = string.IsNullOrWhiteSpace(options.Adapter) ? ModelFolder.AdapterPath(ModelDirectory, Role) : Path.GetFullPath(options.Adapter);
        _tokenizer = ModelFolder.LoadLlmTokenizer(ModelDirectory, Config);
        _device = TorchRuntime.ResolveDevice(options.Device);
        _current = new Loaded(LoadExpert(ConfiguredAdapter));
        logger.LogInformation("Expert {Role} serves {Version} on {Device}, {Weights} decode weights ({Batching})", Role, _current.Model.Version, Device,
            DecodeWeightFormats.Name(_decodeWeights),
            _current.Model.Batcher is { } b ? $"continuous batching, up to {b.MaxBatch} sequences" : $"up to {options.MaxConcurrentGenerations} generations at once");
    }

    ExpertModel LoadExpert(string adapter)
    {
        var model = ExpertModel.Load(Config, ModelDirectory, _tokenizer, Role, adapter, _device, _decodeWeights);
        model.EnableBatching(_options.MaxBatch, _options.TokenDelay);
        return model;
    }

    public Lease Acquire()
    {
        lock (_gate)
        {
            _current.Users++;
            return new Lease(this, _current, _current.Model);
        }
    }

    void Release(Loaded loaded)
    {
        bool free;
        lock (_gate)
        {
            loaded.Users--;
            free = loaded.Retired && loaded.Users == 0;
        }
        if (free) loaded.Model.Dispose();
    }

    /// <summary>
    /// Loads <paramref name="adapterDirectory"/> (or the configured adapter) beside the current expert, validates it and
    /// switches. Throws <see cref="InvalidDataException"/> (the old expert keeps serving) when the checkpoint is unusable.
    /// </summary>
    public async Task<ExpertModel> ReloadAsync(string? adapterDirectory, CancellationToken cancellationToken)
    {
        // A relative path would be resolved against this process's working folder, which the caller cannot know.
        if (!string.IsNullOrWhiteSpace(adapterDirectory) && !Path.IsPathRooted(adapterDirectory))
            throw new ArgumentException($"the adapter path '{adapterDirectory}' is relative; give an absolute path on the expert's filesystem (rsmoe reload resolves it for you)");
        string path = string.IsNullOrWhiteSpace(adapterDirectory) ? ConfiguredAdapter : Path.GetFullPath(adapterDirectory);
        await _reloading.WaitAsync(cancellationToken);
        try
        {
            var clock = Stopwatch.StartNew();
            ExpertModel fresh;
            try
            {
                fresh = await Task.Run(() => LoadExpert(path), CancellationToken.None);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException or NotSupportedException or System.Text.Json.JsonException)
            {
                throw new InvalidDataException($"checkpoint '{path}' refused: {e.Message}", e);
            }
            Loaded old;
            bool free;
            lock (_gate)
            {
                old = _current;
                _current = new Loaded(fresh);
                old.Retired = true;
                free = old.Users == 0;   // else the last lease's Release frees it
                Reloads++;
            }
            _logger.LogInformation("Expert {Role} switched from {Old} to {New} in {Ms:F0} ms", Role, old.Model.Version, fresh.Version, clock.Elapsed.TotalMilliseconds);
            if (free) old.Model.Dispose();
            return fresh;
        }
        finally
        {
            _reloading.Release();
        }
    }

    public void Dispose()
    {
        _current.Model.Dispose();
    }
}
