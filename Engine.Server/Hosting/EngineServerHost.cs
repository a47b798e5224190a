using System.Net;
using Engine.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Engine.Server.Hosting;

/// <summary>
/// A stand-alone server (what `engine serve` and the tests run): Kestrel on one address, the endpoints,
/// and a graceful stop: on SIGTERM new requests get 503, running ones get the grace period, then they
/// are cancelled and the process exits 0.
/// </summary>
public sealed class EngineServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EngineServerHost(WebApplication app, EngineGateway gateway)
    {
        _app = app;
        Gateway = gateway;
    }

    public EngineGateway Gateway { get; }

    /// <summary>The address Kestrel listens on (with the real port when 0 was asked), once started.</summary>
    public Uri Address => new(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());

    /// <param name="host">An IP address, or localhost.</param>
    /// <param name="port">0 picks a free port.</param>
    public static EngineServerHost Create(ServerOptions options, string host, int port, Func<ServerOptions, InferenceEngine>? load = null, LogLevel logLevel = LogLevel.Warning)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.SetMinimumLevel(logLevel);
        builder.WebHost.UseKestrel(kestrel =>
        {
            if (host == "localhost") kestrel.ListenLocalhost(port);
            else if (IPAddress.TryParse(host, out var address)) kestrel.Listen(address, port);
            else throw new Core.EngineException($"--host '{host}' is not an IP address or localhost");
            kestrel.AddServerHeader = false;
        });
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = options.ShutdownGrace + TimeSpan.FromSeconds(10));
        builder.Services.AddEngineServer(options, load);
        var app = builder.Build();
        app.MapEngineServer();
        var gateway = app.Services.GetRequiredService<EngineGateway>();
        // Runs before Kestrel stops listening: new requests meet 503 while running ones finish.
        app.Lifetime.ApplicationStopping.Register(() => gateway.DrainAsync(options.ShutdownGrace).GetAwaiter().GetResult());
        return new EngineServerHost(app, gateway);
    }

    public Task StartAsync(CancellationToken cancellation = default) => _app.StartAsync(cancellation);

    /// <summary>Runs until the process is told to stop (SIGTERM, Ctrl-C) or <see cref="StopAsync"/>.</summary>
    public Task RunAsync() => _app.RunAsync();

    public Task StopAsync() => _app.StopAsync();

    /// <summary>Completes when the server stopped (SIGTERM, Ctrl-C, <see cref="StopAsync"/>).</summary>
    public Task WaitForShutdownAsync() => _app.WaitForShutdownAsync();

    public async ValueTask DisposeAsync()
    {
        await _app.DisposeAsync();
        Gateway.Dispose();
    }
}
