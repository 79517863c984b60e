using System.Collections.Concurrent;
using Grpc.Core;
using RsMoe.Scenes;

namespace RsMoe.Gateway.Scenes;

/// <summary>One REST scene job: queued, running, then done, failed or cancelled; its tiles so far and its GeoJSON.</summary>
public sealed class SceneJob
{
    readonly List<TileResult> _results = [];
    readonly SceneImage _scene;
    readonly string _path;
    string? _final;   // the GeoJSON once the job has ended, written once

    public string Id { get; } = Guid.NewGuid().ToString("N");
    public string FileName { get; }
    public SceneTiling Tiling { get; }
    public IReadOnlyList<SceneTile> Tiles { get; }
    public int Width { get; }
    public int Height { get; }
    public string? SourceCrs { get; }
    public string Status { get; private set; } = "queued";
    /// <summary>The scene shrunk to at most 1024 pixels a side (PNG); null until made, or if it could not be.</summary>
    public byte[]? Preview { get; private set; }
    public string? Error { get; private set; }
    public DateTimeOffset Created { get; }
    public DateTimeOffset? Finished { get; private set; }
    internal CancellationTokenSource Cancellation { get; } = new();

    readonly TimeProvider _clock;

    internal SceneJob(string path, string fileName, SceneImage scene, SceneTiling tiling, IReadOnlyList<SceneTile> tiles, TimeProvider clock)
    {
        _clock = clock;
        Created = clock.GetUtcNow();
        (Width, Height) = (scene.Width, scene.Height);   // the scene is closed when the job ends; these stay
        (_path, FileName, _scene, Tiling, Tiles, SourceCrs) = (path, fileName, scene, tiling, tiles, scene.GeoReference?.CrsName);
    }

    public (int Done, int Failed) Progress()
    {
        lock (_results) return (_results.Count, _results.Count(r => r.Caption is null));
    }

    /// <summary>The GeoJSON of the tiles finished so far (all of them once the job is done).</summary>
    public string GeoJson()
    {
        lock (_results) return _final ?? SceneGeoJson.Build(_scene, Tiling, _results, FileName).ToJsonString();
    }

    internal async Task RunAsync(SceneRunner runner, ILogger logger)
    {
        var token = Cancellation.Token;
        try
        {
            // The preview reads the whole scene once, so it waits for the job's turn like the tiles do.
            void Started()
            {
                Status = "running";
                try { Preview = _scene.PreviewPng(); }
                catch (SceneRejectedException e) { logger.LogWarning("Scene job {Job} has no preview: {Reason}", Id, e.Message); }
            }
            await foreach (var result in runner.CaptionAsync(_scene, Tiles, Started, token))
                lock (_results) _results.Add(result);
            Status = "done";
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            Status = "cancelled";
        }
        catch (Exception e)
        {
            logger.LogError(e, "Scene job {Job} failed", Id);
            (Status, Error) = ("failed", e is RpcException r ? r.Status.Detail : "the job failed; the gateway's log has the details");
        }
        finally
        {
            lock (_results) _final = SceneGeoJson.Build(_scene, Tiling, _results, FileName).ToJsonString();
            Finished = _clock.GetUtcNow();
            _scene.Dispose();
            File.Delete(_path);
        }
    }
}

/// <summary>
/// The REST scene jobs: each runs in the background from its upload to its GeoJSON, cancellable, kept for
/// <see cref="SceneOptions.KeepFinishedFor"/> after it ends; at most <see cref="SceneOptions.MaxJobs"/> are kept. Ids
/// are random (128 bits), so only who started a job (or was given its id) can read or cancel it.
/// </summary>
public sealed class SceneJobs(SceneRunner runner, SceneOptions options, TimeProvider clock, ILogger<SceneJobs> logger) : IDisposable
{
    readonly ConcurrentDictionary<string, SceneJob> _jobs = new();

    public SceneJob Start(string path, string fileName, SceneTiling tiling, bool pixelCoordinates)
    {
        Expire();
        if (_jobs.Count >= options.MaxJobs)
        {
            File.Delete(path);
            throw new RpcException(new Status(StatusCode.Unavailable, $"{options.MaxJobs} scene jobs are kept already; delete finished ones (DELETE /v1/scenes/{{id}}) or try again later"));
        }
        SceneImage scene;
        IReadOnlyList<SceneTile> tiles;
        try { (scene, tiles) = runner.Open(path, tiling, pixelCoordinates); }
        catch { File.Delete(path); throw; }
        var job = new SceneJob(path, fileName, scene, tiling, tiles, clock);
        _jobs[job.Id] = job;
        _ = Task.Run(() => job.RunAsync(runner, logger));
        return job;
    }

    public SceneJob? Find(string id)
    {
        Expire();
        return _jobs.GetValueOrDefault(id);
    }

    /// <summary>Cancels a running or queued job; a finished one is forgotten. False when there is no such job.</summary>
    public bool Delete(string id)
    {
        if (!_jobs.TryGetValue(id, out var job)) return false;
        if (job.Finished is null) job.Cancellation.Cancel();
        else _jobs.TryRemove(id, out _);
        return true;
    }

    void Expire()
    {
        var now = clock.GetUtcNow();
        foreach (var (id, job) in _jobs)
            if (job.Finished is { } finished && now - finished > options.KeepFinishedFor) _jobs.TryRemove(id, out _);
    }

    public void Dispose()
    {
        foreach (var job in _jobs.Values) job.Cancellation.Cancel();
    }
}
